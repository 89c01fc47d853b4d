"""Run reports: plots (and, from other modules, metrics tables)."""

from nlp_pipeline.reports.plots import plot_confusion_matrix, plot_learning_curve

__all__ = ["plot_confusion_matrix", "plot_learning_curve"]
