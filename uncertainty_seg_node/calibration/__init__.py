"""Calibration on labelled validation data.

The default gamma is searched in `gamma_search`, the temperature fitted in `temperature`;
`model/rewrite.py` writes them into the model file.
"""
