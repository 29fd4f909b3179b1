; Inno Setup script: a Windows installer for the PyInstaller bundle.
;
; NOTE: not built or run by the project yet; written for Inno Setup 6.3 or
; newer (for "x64compatible"). Build dist\annotator-gui\ first with the spec,
; then, from the repository root:
;
;     iscc /DAppVersion=0.1.0 packaging\windows\annotator-gui.iss
;
; packaging\README.md gives the full commands, with the version taken from
; pyproject.toml. The installer is written to dist\.

#ifndef AppVersion
  #error Pass the version from pyproject.toml: iscc /DAppVersion=X.Y.Z packaging\windows\annotator-gui.iss
#endif

#define AppName "Annotator Style Explorer"
#define BundleDir "..\..\dist\annotator-gui"

[Setup]
; AppId identifies the app across upgrades and in "Apps & features": keep it unchanged.
AppId={{95653519-1098-4427-BF92-86ACEB171127}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Lab machines often deny administrator rights: let the user install for themselves only.
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=annotator-gui-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\resources\annotator-gui.ico
UninstallDisplayIcon={app}\annotator-gui.exe
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\annotator-gui.exe"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\annotator-gui.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\annotator-gui.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
