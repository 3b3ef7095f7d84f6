"""python3 -m weft: see cli.py."""
import sys

from .cli import main

sys.exit(main())
