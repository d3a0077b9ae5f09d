<#
.SYNOPSIS
  Install (or remove) the Shadowmap agent as a Windows service.

.DESCRIPTION
  Creates a virtualenv under "C:\Program Files\Shadowmap\agent" from an installed Python 3.11+,
  installs the agent's dependencies plus pywin32, copies the agent, writes
  %PROGRAMDATA%\Shadowmap\agent.toml and the enrollment token (readable by SYSTEM and
  Administrators only), registers the "ShadowmapAgent" service (automatic start, restart on
  failure) and starts it. The service enrolls with the token file on its first cycle.

  Prefer the MSI (`shadowmap package --type msi`): it brings its own Python. This script is for
  machines that already have Python 3.11+ and cannot take an MSI.

  Intune: wrap one flat folder (install.ps1, shadowmap_agent_service.py, lock\agent.txt, the
  agent and signatures folders, enroll-token) as a Win32 app; install command:
    powershell -ExecutionPolicy Bypass -File install.ps1 -ServerUrl https://shadowmap.example.com -TokenFile enroll-token
  uninstall command: powershell -ExecutionPolicy Bypass -File install.ps1 -Uninstall
  detection rule: service "ShadowmapAgent" exists.

.EXAMPLE
  .\install.ps1 -ServerUrl https://shadowmap.example.com -TokenFile .\enroll-token -CaFile .\ca.pem
#>
[CmdletBinding()]
param(
    [string]$ServerUrl,
    [string]$TokenFile,
    [string]$Token,  # visible in the process list: prefer -TokenFile
    [string]$CaFile,
    [string]$Python = "py",
    [switch]$Uninstall
)
$ErrorActionPreference = "Stop"
$Prefix = Join-Path $env:ProgramFiles "Shadowmap\agent"
$Data = Join-Path $env:ProgramData "Shadowmap"
$Source = Split-Path -Parent $MyInvocation.MyCommand.Path
# A flat folder (as the help says) or this repository's packaging\windows.
if (Test-Path (Join-Path $Source "agent")) { $Repo = $Source } else { $Repo = Resolve-Path (Join-Path $Source "..\..") }
$Lock = @((Join-Path $Source "lock\agent.txt"), (Join-Path $Repo "packaging\lock\agent.txt")) |
    Where-Object { Test-Path $_ } | Select-Object -First 1
if (-not $Lock) { throw "lock\agent.txt (the pinned dependencies) is missing from $Source" }
$VenvPython = Join-Path $Prefix "venv\Scripts\python.exe"
$Service = Join-Path $Prefix "shadowmap_agent_service.py"

function Restrict-Acl([string]$Path) {
    # SYSTEM and Administrators only; no inherited access.
    icacls $Path /inheritance:r /grant:r "SYSTEM:(OI)(CI)F" "Administrators:(OI)(CI)F" | Out-Null
}

if ($Uninstall) {
    if (Get-Service ShadowmapAgent -ErrorAction SilentlyContinue) {
        & $VenvPython $Service stop 2>$null
        & $VenvPython $Service remove
    }
    Remove-Item -Recurse -Force $Prefix -ErrorAction SilentlyContinue
    Remove-Item -Recurse -Force $Data -ErrorAction SilentlyContinue
    Write-Host "Shadowmap agent removed."
    exit 0
}
if (-not $ServerUrl) { throw "-ServerUrl is required" }

New-Item -ItemType Directory -Force -Path $Prefix, $Data, (Join-Path $Data "agent") | Out-Null
& $Python -3 -m venv (Join-Path $Prefix "venv")
# Pinned with hashes (pywin32 included on Windows); then pywin32's post-install step, which a
# virtualenv otherwise skips and without which the service host cannot load pywintypes.
& $VenvPython -m pip install --quiet --require-hashes --only-binary=:all: -r $Lock
& $VenvPython (Join-Path $Prefix "venv\Scripts\pywin32_postinstall.py") -install -quiet
$Site = & $VenvPython -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"
Copy-Item -Recurse -Force (Join-Path $Repo "agent"), (Join-Path $Repo "signatures") $Site
Copy-Item -Force (Join-Path $Source "shadowmap_agent_service.py") $Service

$toml = @("[agent]", "server_url = `"$ServerUrl`"",
          "state_dir = `"$((Join-Path $Data 'agent') -replace '\\','/')`"",
          "enrollment_token_file = `"$((Join-Path $Data 'enroll-token') -replace '\\','/')`"")
if ($CaFile) {
    Copy-Item -Force $CaFile (Join-Path $Data "ca.pem")
    $toml += "ca_file = `"$((Join-Path $Data 'ca.pem') -replace '\\','/')`""
}
# Lock the folder before the secret goes in; write UTF-8 without a byte-order mark (Windows
# PowerShell 5.1's Set-Content adds one for UTF-8, which the TOML parser rejects).
Restrict-Acl $Data
$utf8 = New-Object System.Text.UTF8Encoding $false
[System.IO.File]::WriteAllLines((Join-Path $Data "agent.toml"), [string[]]$toml, $utf8)
if ($TokenFile) { $Token = (Get-Content -Raw -Path $TokenFile).Trim() }
if ($Token) { [System.IO.File]::WriteAllText((Join-Path $Data "enroll-token"), $Token, $utf8) }

& $VenvPython $Service --startup auto install
sc.exe failure ShadowmapAgent reset= 86400 actions= restart/30000/restart/30000/restart/300000 | Out-Null
& $VenvPython $Service start
Write-Host "Shadowmap agent installed and started; settings in $Data\agent.toml"
