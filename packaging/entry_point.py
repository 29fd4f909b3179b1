"""Entry script of the bundled app.

PyInstaller freezes a script, not a package's `__main__`, because a script run
on its own cannot use the package-relative imports of `annotator_gui/__main__.py`.
"""

import sys

from annotator_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
