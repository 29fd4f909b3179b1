#!/bin/sh
# Launcher of the Linux bundle: <bundle>/bin/annotator-gui, and /usr/bin/annotator-gui
# through a symbolic link when installed from the .deb.
#
# Qt aborts with a terse message when a system library of its xcb platform
# plugin is missing (for example libxcb-cursor0, needed since Qt 6.5). This
# script checks the libraries first with ldd and names the Debian/Ubuntu
# packages to install, using the table in <bundle>/share/system-libraries.txt.
# Then it runs the bundled executable with all arguments unchanged.
set -u

script=$(readlink -f "$0")
bundle=$(dirname "$(dirname "$script")")
executable="$bundle/annotator-gui"
internal="$bundle/_internal"
table="$bundle/share/system-libraries.txt"
EXIT_MISSING_LIBRARIES=3

# Return success when this run opens a window on the screen and so needs the
# xcb platform plugin. The command-line modes render offscreen or not at all.
needs_display() {
    case "${1:-}" in
        analyze | info) return 1 ;;
    esac
    for argument in "$@"; do
        case "$argument" in
            --self-test | --screenshot | --screenshot=* | --help | -h | --version) return 1 ;;
        esac
    done
    case "${QT_QPA_PLATFORM:-xcb}" in
        xcb*) return 0 ;;
        *) return 1 ;;
    esac
}

# Print the sonames that the dynamic linker cannot find for the given files.
missing_sonames() {
    for file in "$@"; do
        [ -e "$file" ] || continue
        LD_LIBRARY_PATH="$internal${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$file" 2>/dev/null
    done | awk '$2 == "=>" && $3 == "not" && $4 == "found" { print $1 }' | sort -u
}

# Print the package that provides a soname, or nothing when the table has none.
package_of() {
    [ -r "$table" ] || return 0
    awk -v name="$1" '$1 == name { print $2; exit }' "$table"
}

report_missing() {
    packages=""
    unknown=""
    for soname in $1; do
        package=$(package_of "$soname")
        if [ -n "$package" ]; then
            case " $packages " in
                *" $package "*) ;;
                *) packages="${packages:+$packages }$package" ;;
            esac
        else
            unknown="${unknown:+$unknown }$soname"
        fi
    done
    message="annotator-gui: error: Qt cannot start because these system libraries are missing: $(echo $1)."
    if [ -n "$packages" ]; then
        message="$message
Install them on Debian or Ubuntu with:
    sudo apt-get install $packages"
    fi
    if [ -n "$unknown" ]; then
        message="$message
No package is known for: $unknown. Find it with 'apt-file search NAME' or your distribution's package search."
    fi
    echo "$message" >&2
    # Started from a desktop menu, stderr goes nowhere visible, so show a dialog where a tool for it exists.
    if [ ! -t 2 ] && [ -n "${DISPLAY:-}" ]; then
        if command -v zenity >/dev/null 2>&1; then
            zenity --error --title="Annotator Style Explorer" --text="$message" >/dev/null 2>&1
        elif command -v kdialog >/dev/null 2>&1; then
            kdialog --title "Annotator Style Explorer" --error "$message" >/dev/null 2>&1
        fi
    fi
}

if [ ! -x "$executable" ]; then
    echo "annotator-gui: error: $executable is missing; reinstall the app" >&2
    exit 1
fi

if command -v ldd >/dev/null 2>&1; then
    # The Qt modules are needed by every mode (analyze draws its figures with Qt);
    # the xcb plugin only when a window opens on the screen.
    plugins="$internal/PySide6/Qt/plugins/platforms"
    if needs_display "$@"; then
        missing=$(missing_sonames "$internal/PySide6/QtWidgets.abi3.so" "$plugins/libqoffscreen.so" "$plugins/libqxcb.so")
    else
        missing=$(missing_sonames "$internal/PySide6/QtWidgets.abi3.so" "$plugins/libqoffscreen.so")
    fi
    if [ -n "$missing" ]; then
        report_missing "$missing"
        exit "$EXIT_MISSING_LIBRARIES"
    fi
fi

exec "$executable" "$@"
