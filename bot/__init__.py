"""Guichet core: guides, the step-by-step walk, settings. Plain Python, no Rasa imports."""
