"""A small library of validated covariate scales (need for cognition, trust in automation, AI literacy)
and descriptive items on prior LLM use, to add to a study's end-of-study questionnaire and to score as
covariates (docs/researchers/covariate-scales.md).

- ``library``: the scales as data and their scoring, free of Django;
- ``studies``: adding a scale to a study, and the study file's ``covariate_scales`` part.
"""

from .library import CODES, SCALES, Scale, Score, participant_scores, scales_in

__all__ = ["CODES", "SCALES", "Scale", "Score", "participant_scores", "scales_in"]
