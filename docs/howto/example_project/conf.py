# conf.py of a small Sphinx project that renders nnderive derivations.
# tests/test_docs.py builds this project with -W, so the how-to cannot rot.
project = "My notes"

extensions = [
    "derive.sphinxext",  # the derivation and catalogue-table directives
]

# Certificates are measured at build time on a grid of this many points
# (nnderive verify uses 3000; fewer keeps the build fast).
nnderive_certificate_points = 200

# Sphinx loads MathJax from a CDN by default: fine online.  For pages that must
# render offline, serve MathJax from your own _static directory instead (see
# "Use the directive in your own Sphinx project" in the nnderive docs).
