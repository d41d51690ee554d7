"""Tables and figures of the papers, written beside the published values.

``tables`` writes any table as CSV, Markdown and LaTeX and reads
``config/paper_values/*.csv``; one module per figure family draws the plots.
"""
