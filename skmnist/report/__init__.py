"""Scores and figures: evaluate_model and the plots."""
