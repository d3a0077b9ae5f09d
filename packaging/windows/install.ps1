<#
.SYNOPSIS
  Install (or remove) the Shadowmap agent as a Windows service.

.DESCRIPTION
  Creates a virtualenv under "C:\Program Files\Shadowmap\agent" from an installed Python 3.11+,
  installs the agent's dependencies plus pywin32, copies the agent, writes
  %PROGRAMDATA%\Shadowmap\agent.toml and the enrollment token (readable by SYSTEM and
  Administrators only), registers the "ShadowmapAgent" service (automatic start, restart on
  failure) and starts it. The service enrolls with the token file on its first cycle.

  Intune: wrap this folder (install.ps1, shadowmap_agent_service.py, the agent and signatures
  folders) as a Win32 app; install command:
    powershell -ExecutionPolicy Bypass -File install.ps1 -ServerUrl https://shadowmap.example.com -Token smet_...
  uninstall command: powershell -ExecutionPolicy Bypass -File install.ps1 -Uninstall
  detection rule: service "ShadowmapAgent" exists.

.EXAMPLE
  .\install.ps1 -ServerUrl https://shadowmap.example.com -Token smet_xxx -CaFile .\ca.pem
#>
[CmdletBinding()]
param(
    [string]$ServerUrl,
    [string]$Token,
    [string]$CaFile,
    [string]$Python = "py",
    [switch]$Uninstall
)
$ErrorActionPreference = "Stop"
$Prefix = Join-Path $env:ProgramFiles "Shadowmap\agent"
$Data = Join-Path $env:ProgramData "Shadowmap"
$Source = Split-Path -Parent $MyInvocation.MyCommand.Path
$Repo = Resolve-Path (Join-Path $Source "..\..")
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
$deps = & $VenvPython -c "import tomllib,sys; p=tomllib.load(open(sys.argv[1],'rb'))['project']; print('\n'.join(p['dependencies']+p['optional-dependencies']['agent']))" (Join-Path $Repo "pyproject.toml")
& $VenvPython -m pip install --quiet ($deps -split "`n") pywin32
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
Set-Content -Path (Join-Path $Data "agent.toml") -Value $toml -Encoding utf8
if ($Token) { Set-Content -Path (Join-Path $Data "enroll-token") -Value $Token -NoNewline -Encoding ascii }
Restrict-Acl $Data

& $VenvPython $Service --startup auto install
sc.exe failure ShadowmapAgent reset= 86400 actions= restart/30000/restart/30000/restart/300000 | Out-Null
& $VenvPython $Service start
Write-Host "Shadowmap agent installed and started; settings in $Data\agent.toml"
