"""Grading model outputs as arXiv 2505.13792 does, and more strictly.

* ``answers``: the paper's answer metrics (CoTempQA's evaluation, the bAbI and MS MARCO metrics, as
  the authors ran them) and a strict variant;
* ``steps``: the authors' step checks, as published and as intended;
* ``strict``: the project's strict step grading, with ``parsing`` reading real outputs;
* ``outputs``: every grade of an output at once, as evaluations store them;
* ``table``: Table 1 from graded outputs.

All of it takes plain data (``traces.loaders.Problem``, strings) and knows nothing of Django.
"""
