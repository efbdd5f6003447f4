"""Poster drawing: pure functions of a design, a subject and a font, with no database or network."""
