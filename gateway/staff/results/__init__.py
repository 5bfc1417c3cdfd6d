"""A poll's results for staff and the public: counting (tally), small-group suppression
(suppress), SVG charts (charts), the page's figures (view) and exports (exports, floip).

Counting is pure: these modules take FlowRun rows and a flow and return plain data; the pages
in gateway/staff/polls_pages.py do the reading and the rendering.
"""
