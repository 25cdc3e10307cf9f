"""Heatmap evaluation: faithfulness, localisation, complexity and statistics."""
