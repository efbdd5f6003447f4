"""Poster drawing: pure functions of a design, the content and a font, with no database or network.

design (the merchant's design, its JSON form and validation), compose (the entry points:
render_poster, render_preview), text (measuring, wrapping, glyphs), qr, pictures, fonts.
"""
