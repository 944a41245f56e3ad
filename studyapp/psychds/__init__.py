"""Psych-DS (https://psych-ds.github.io/): a study's data as a standard package for open-data
repositories. ``rules`` reads the copied schema model (``schema/``), ``describe`` writes the package's
metadata and ``validate`` checks a package, all without Django; ``package`` builds and streams a study's
zip from the exports."""
