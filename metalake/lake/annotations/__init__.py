"""Annotations: shapes with labels, grouped in operations (model runs or human projects).

`shapes` checks one annotation and places it in pixels, `documents` checks a whole annotation
file, `store` writes and reads annotation rows, and `uploads` turns a file into a durable job.
"""
