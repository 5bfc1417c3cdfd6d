"""Counting, suppression and charts, without a server: what the results page is made of."""

from __future__ import annotations

import pytest

from gateway.staff.results import labels, tally
from gateway.staff.results.charts import Bar, bar_chart
from gateway.staff.results.suppress import suppress_line, suppress_table
from gateway.staff.results.view import public_view, staff_view
from staff.results_support import flow, run, vote

NAMES = {"en": "English", "sw": "Kiswahili", "fr": "Français"}


def question(flow_name: str, key: str) -> tally.Question:
    return next(q for q in tally.questions(flow(flow_name)) if q.key == key)


def test_counts_follow_the_flow_s_option_order_and_only_completed_runs_count():
    runs = [vote("drainage", "kondele") for _ in range(3)] + [vote("water_kiosks", "migosi")] + [
        run("budget", status="incomplete", last_step="confirm", priority="water_kiosks")]
    counted = tally.tally(question("budget", "priority"), runs)
    assert counted.total == 4
    figures = {c.value: c.count for c in counted.counts}
    assert figures["drainage"] == 3 and figures["water_kiosks"] == 1
    assert figures["street_lights"] == 0
    assert [c.label for c in counted.counts][:2] == ["Water kiosks", "Borehole repair"]
    assert counted.percent(3) == 75


def test_the_send_step_is_no_question_and_placeholders_do_not_show():
    budget = tally.questions(flow("budget"))
    assert [q.key for q in budget] == ["priority", "age", "ward"]
    steps = {s.step: s.label for s in tally.funnel(flow("budget"), [])}
    assert steps["confirm"] == "Send your vote?"  # the question, not "Priority: …. Ward: …."
    confirm = flow("budget").steps["confirm"]
    assert labels.prompt_text(flow("budget"), confirm) == (
        "Priority: [priority]. Ward: [ward]. Send your vote?")


def test_funnel_steps_are_named_by_their_words_not_their_ids():
    steps = {s.step: s.label for s in tally.funnel(flow("budget"), [])}
    assert steps == {
        "language": "Choose a language",  # its words are the system texts'
        "priority": "Which project should your ward fund first?",
        "age": "How old are you?",
        "ward": "Which ward do you live in?",
        "comment": "Any comment for the county?",  # not "Up to 80 letters. Reply 0 to skip."
        "confirm": "Send your vote?",
    }
    survey = {s.step: s.label for s in tally.funnel(flow("survey"), [])}
    assert survey["visited"] == "In the last 3 months, did you visit a county…"
    assert survey["rating"] == "How was the service?"
    assert all(len(label) <= labels.LABEL_LENGTH for label in survey.values())


def test_a_prompt_made_only_of_answers_names_them():
    report = flow("report")
    assert labels.step_label(report, report.steps["confirm"]) == (
        "[category] in [ward]: [description]")
    assert labels.step_label(report, report.steps["location"]) == "Which county?"  # area step
    assert labels.step_label(report, report.steps["mine"]) == "Your reports:"  # reports step


@pytest.mark.parametrize(("text", "limit", "short"), [
    ("How old are you?", 16, "How old are you?"),
    ("one two three four five", 15, "one two three…"),
    ("Sorry, the main problem", 15, "Sorry, the…"),  # no comma before the ellipsis
    ("unbreakableword", 10, "unbreakab…"),
])
def test_shorten_cuts_at_a_word_and_stays_within_the_limit(text, limit, short):
    assert labels.shorten(text, limit=limit) == short
    assert len(short) <= limit


def test_an_answer_the_flow_no_longer_offers_is_still_counted():
    counted = tally.tally(question("budget", "priority"), [vote("old_project", "kondele")])
    assert (counted.counts[-1].value, counted.counts[-1].count) == ("old_project", 1)


def test_a_rating_gets_one_bar_per_value_and_yes_no_reads_yes_and_no():
    runs = [run("survey", visited="yes", service="water", rating=r, recommend="no")
            for r in (1, 5, 5)]
    rating = tally.tally(question("survey", "rating"), runs)
    assert [(c.value, c.count) for c in rating.counts] == [
        ("1", 1), ("2", 0), ("3", 0), ("4", 0), ("5", 2)]
    recommend = tally.tally(question("survey", "recommend"), runs)
    assert [(c.label, c.count) for c in recommend.counts] == [("Yes", 0), ("No", 3)]


def test_breakdowns_are_by_ward_language_channel_and_age_band_when_the_flow_asks():
    assert [d.key for d in tally.dimensions(flow("budget"), NAMES)] == [
        "ward", "language", "channel", "age"]
    assert [d.key for d in tally.dimensions(flow("survey"), NAMES)] == ["language", "channel"]


def test_a_breakdown_s_rows_add_up_and_unknown_groups_are_not_given():
    runs = [vote("drainage", "kondele", language="sw"), vote("drainage", "kondele"),
            vote("water_kiosks", "migosi", language="xx")]
    counted = tally.tally(question("budget", "priority"), runs)
    by_language = tally.breakdown(counted, tally.dimensions(flow("budget"), NAMES)[1], runs)
    rows = {label: (cells, total) for label, cells, total in by_language.rows}
    assert set(rows) == {"English", "Kiswahili", "Not given"}
    assert sum(total for _, total in rows.values()) == counted.total
    assert [c.value for c in by_language.columns] == ["water_kiosks", "drainage"]  # no zeros
    assert rows["Kiswahili"][0] == (0, 1)


def test_a_three_person_ward_is_hidden_with_the_cells_that_would_give_it_away():
    # columns: drainage, water kiosks; rows: Kondele, Migosi, Railways (overall counts shown)
    shown, totals = suppress_table([[3, 0], [3, 9], [10, 8]], [3, 12, 18], 5)
    assert shown[0] == [None, None] and totals[0] is None  # the 3-person ward
    # Migosi's 3 drainage would be 12 - 9, and Kondele's total 33 - 12 - 18: both hidden
    assert shown[1] == [None, None] and totals[1] is None
    assert shown[2] == [10, 8] and totals[2] == 18


def test_large_cells_stay_visible():
    shown, totals = suppress_table([[20, 7], [6, 30]], [27, 36], 5)
    assert shown == [[20, 7], [6, 30]] and totals == [27, 36]


@pytest.mark.parametrize("counts, total, expected", [
    ([12, 8, 0], 20, [12, None, None]),   # the 0 alone would be 20 - 12 - 8
    ([12, 8, 6], 26, [12, 8, 6]),
    ([3, 1], 4, [None, None]),
])
def test_a_public_chart_hides_small_counts_and_their_complement(counts, total, expected):
    shown, shown_total = suppress_line(counts, total, 5)
    assert shown == expected
    assert shown_total == (total if total >= 5 else None)


def test_the_funnel_counts_who_reached_each_step_and_who_left_there():
    runs = [vote("drainage", "kondele") for _ in range(4)]  # comment skipped with "0"
    runs += [run("budget", status="incomplete", last_step="ward", priority="drainage",
                 age="18_24") for _ in range(2)]
    runs += [run("budget", status="incomplete", last_step="priority")]
    steps = {s.step: (s.reached, s.left) for s in tally.funnel(flow("budget"), runs)}
    assert steps["language"] == (7, 0)
    assert steps["priority"] == (7, 1)
    assert steps["age"] == (6, 0)
    assert steps["ward"] == (6, 2)
    assert steps["comment"] == (4, 0)  # skipped, but on every path to the confirm step
    assert steps["confirm"] == (4, 0)
    assert "thanks" not in steps


def test_the_funnel_follows_skip_logic():
    runs = [run("survey", visited="no", why_not="too_far", last_step="thanks_not"),
            run("survey", visited="yes", service="water", rating=4, recommend="yes"),
            run("survey", status="incomplete", last_step="problem", visited="yes",
                service="health", rating=1)]
    steps = {s.step: s.reached for s in tally.funnel(flow("survey"), runs)}
    assert steps == {"language": 3, "visited": 3, "service": 2, "rating": 2, "problem": 1,
                     "recommend": 1, "why_not": 1}


def test_a_chart_is_accessible_svg_with_the_numbers_as_text():
    svg = str(bar_chart("chart-priority", "Which project?", [
        Bar("water", "Water <kiosks>", 12, 60), Bar("roads", "Roads", None)], 5))
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert '<title id="chart-priority-title">Which project?</title>' in svg
    assert "Water &lt;kiosks&gt;: 12 (60%). Roads: fewer than 5" in svg  # the <desc>
    assert '<text class="figure" x="296" y="35" id="chart-priority-water">12 (60%)</text>' in svg
    assert svg.count("<rect") == 1  # a hidden count draws no bar: its length would tell


def test_the_public_view_has_no_breakdowns_and_hides_small_totals():
    runs = [vote("drainage", "kondele") for _ in range(3)]
    public = public_view(flow("budget"), runs, small_group=5)
    assert public.responses is None
    assert all(q.total is None and not q.breakdowns for q in public.questions)
    staff = staff_view(flow("budget"), runs, small_group=5, language_names=NAMES)
    assert staff.completed == 3 and staff.questions[0].total == 3
    assert [t.title for t in staff.questions[0].breakdowns] == [
        "By ward", "By language", "By channel", "By age band"]
