"""Derive the .deb's Depends field from the shared libraries the bundle needs.

    python packaging/linux/deb_depends.py BUNDLE_DIR TABLE

Reads the NEEDED entries of every ELF file in BUNDLE_DIR (with `objdump -p`,
from binutils). A needed library is either shipped in the bundle or must be
listed in TABLE (packaging/linux/system-libraries.txt), which names the Debian
package that provides it. Prints the packages of the needed system libraries
as a Depends value ("libc6 (>= 2.35), libgl1, ..."), with the lowest glibc
release that has every glibc symbol version the bundle requires. Exits with status 1, listing the
files and libraries, when a needed library is neither bundled nor in TABLE,
so a new dependency cannot slip into a release unnoticed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
GLIBC_PREFIX = "GLIBC_"


def read_table(path: Path) -> dict[str, str]:
    """Map each soname in the table to its package."""
    packages = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 2:
            raise SystemExit(f"{path}:{number}: invalid line {line!r}: expected a soname and a package")
        packages[fields[0]] = fields[1]
    return packages


def elf_files(bundle: Path) -> list[Path]:
    """List the regular ELF files under `bundle`; symbolic links are skipped."""
    found = []
    for folder, _, names in os.walk(bundle):
        for name in names:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            with path.open("rb") as file:
                if file.read(4) == ELF_MAGIC:
                    found.append(path)
    return sorted(found)


def dynamic_section(path: Path) -> tuple[list[str], set[tuple[int, ...]]]:
    """Return an ELF file's NEEDED sonames and the glibc symbol versions it requires (as tuples)."""
    result = subprocess.run(["objdump", "-p", str(path)], capture_output=True, text=True, check=True)
    needed = []
    glibc_versions = set()
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == "NEEDED":
            needed.append(fields[1])
        elif len(fields) == 4 and fields[3].startswith(GLIBC_PREFIX):
            glibc_versions.add(tuple(int(part) for part in fields[3][len(GLIBC_PREFIX):].split(".")))
    return needed, glibc_versions


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    bundle, table_path = Path(argv[0]), Path(argv[1])
    table = read_table(table_path)
    bundled_names = {path.name for path in bundle.rglob("*")}

    packages: set[str] = set()
    unknown: dict[str, list[str]] = {}
    glibc_versions: set[tuple[int, ...]] = set()
    for path in elf_files(bundle):
        needed, versions = dynamic_section(path)
        glibc_versions |= versions
        for soname in needed:
            if soname in bundled_names:
                continue
            if soname in table:
                packages.add(table[soname])
            else:
                unknown.setdefault(soname, []).append(str(path.relative_to(bundle)))

    if unknown:
        print(f"deb_depends: error: libraries neither bundled nor listed in {table_path}:", file=sys.stderr)
        for soname, users in sorted(unknown.items()):
            print(f"  {soname}, needed by {', '.join(users[:3])}{' and others' if len(users) > 3 else ''}", file=sys.stderr)
        print("Add each with its Debian package to the table, or bundle it.", file=sys.stderr)
        return 1
    # The bundled Python and Qt call glibc functions that only newer releases
    # have, so libc6 gets the highest symbol version any bundled file requires.
    if "libc6" in packages and glibc_versions:
        packages.discard("libc6")
        packages.add(f"libc6 (>= {'.'.join(map(str, max(glibc_versions)))})")
    print(", ".join(sorted(packages)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
