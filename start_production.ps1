<#
.SYNOPSIS
  Start Homeroom on Windows: Python environment, .env, configuration check, database wait,
  migrations, then serve with waitress (Gunicorn does not run on Windows).

.DESCRIPTION
  The same steps as start_production.sh:
    1. finds Python >= 3.11, creates .venv if missing, installs requirements.txt when it changed
    2. loads the file HOMEROOM_ENV_FILE names (none when empty), by default .env here (written
       from .env.example with fresh secrets on first run); variables set (not empty) in the
       environment win over the file, as in the app and every flask command
    3. validates the configuration and lists every problem
    4. waits for the database (DB_WAIT_TIMEOUT seconds, default 60), runs the migrations
    5. serves with waitress on 0.0.0.0:$PORT (default 8000) with GUNICORN_THREADS threads (default 4);
       the runner of mail and background jobs (flask outbox run) runs beside it and stops with it

.PARAMETER Check
  Validate the configuration, then exit (same as --check).
.PARAMETER MigrateOnly
  Stop after the migrations (same as --migrate-only).
.PARAMETER NoInstall
  Use .venv as it is; install nothing (same as --no-install).
.PARAMETER Help
  Show this help (same as --help).
#>
[CmdletBinding()]
param(
    [switch]$Check,
    [switch]$MigrateOnly,
    [switch]$NoInstall,
    [switch]$Help,
    [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest
)

$ErrorActionPreference = 'Stop'
Set-Location -Path $PSScriptRoot

# GNU-style flags, as in start_production.sh.
foreach ($argument in $Rest) {
    switch ($argument) {
        '--check' { $Check = $true }
        '--migrate-only' { $MigrateOnly = $true }
        '--no-install' { $NoInstall = $true }
        { $_ -in '--help', '-h' } { $Help = $true }
        default { Write-Error "unknown option: $argument"; exit 2 }
    }
}
if ($Help) { Get-Help -Full $PSCommandPath; exit 0 }

$UseColour = -not [Console]::IsOutputRedirected
function Write-Step([string]$Text) {
    if ($UseColour) { Write-Host "==> $Text" -ForegroundColor Cyan } else { Write-Output "==> $Text" }
}
function Write-Info([string]$Text) { Write-Output "    $Text" }
function Stop-WithError([string]$Text, [int]$Code = 1) {
    if ($UseColour) { Write-Host "error: $Text" -ForegroundColor Red } else { [Console]::Error.WriteLine("error: $Text") }
    exit $Code
}

function Find-Python {
    $candidates = @(@('py', '-3.13'), @('py', '-3.12'), @('py', '-3.11'), @('python3'), @('python'))
    foreach ($candidate in $candidates) {
        $exe = $candidate[0]
        $extra = @($candidate | Select-Object -Skip 1)
        if (-not (Get-Command $exe -ErrorAction SilentlyContinue)) { continue }
        & $exe @extra -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>$null
        if ($LASTEXITCODE -eq 0) { return , $candidate }
    }
    return $null
}

$VenvPython = Join-Path $PSScriptRoot '.venv\Scripts\python.exe'

Write-Step 'Python environment'
if (-not $NoInstall) {
    if (-not (Test-Path $VenvPython)) {
        $python = Find-Python
        if ($null -eq $python) { Stop-WithError 'Python 3.11 or newer is required; none found.' }
        $exe = $python[0]
        $extra = @($python | Select-Object -Skip 1)
        Write-Info 'creating .venv'
        & $exe @extra -m venv .venv
        if ($LASTEXITCODE -ne 0) { Stop-WithError 'could not create .venv' }
    }
    $stamp = '.venv\.installed-requirements.txt.sha256'
    $digest = (Get-FileHash -Algorithm SHA256 requirements.txt).Hash
    if (-not (Test-Path $stamp) -or (Get-Content $stamp -Raw).Trim() -ne $digest) {
        Write-Info 'installing requirements.txt'
        & $VenvPython -m pip install --disable-pip-version-check --quiet -r requirements.txt
        if ($LASTEXITCODE -ne 0) { Stop-WithError 'pip install failed' }
        Set-Content -Path $stamp -Value $digest
    } else {
        Write-Info 'requirements.txt unchanged; nothing to install'
    }
} elseif (-not (Test-Path $VenvPython)) {
    Stop-WithError '--no-install given but .venv does not exist; run once without it.'
} else {
    Write-Info 'using .venv as it is (--no-install)'
}

Write-Step 'Configuration'
# The app's rule (backend/config/loading.py): the environment, then HOMEROOM_ENV_FILE (relative to
# this folder; none when empty), by default .env.
$envFile = if ($null -eq $env:HOMEROOM_ENV_FILE) { '.env' } else { $env:HOMEROOM_ENV_FILE }
if (($null -eq $env:HOMEROOM_ENV_FILE) -and -not (Test-Path .env)) {
    if (-not (Test-Path .env.example)) { Stop-WithError '.env.example is missing; cannot create .env.' }
    & $VenvPython scripts/make_env.py
    if ($LASTEXITCODE -ne 0) { Stop-WithError 'could not write .env' }
    Write-Info 'created .env from .env.example with newly generated SECRET_KEY, JWT_SECRET_KEY and ENCRYPTION_KEY'
    Write-Info 'review it (CORS_ORIGINS, DATABASE_URL, REDIS_URL) before serving real users'
}
if ($envFile) {
    if (-not (Test-Path -LiteralPath $envFile -PathType Leaf)) {
        Stop-WithError "HOMEROOM_ENV_FILE names $envFile, which does not exist" 78
    }
    foreach ($line in Get-Content -LiteralPath $envFile) {
        if ($line -match '^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$') {
            $key = $Matches[1]
            $value = $Matches[2]
            if ($value -match '^"(.*)"$' -or $value -match "^'(.*)'$") { $value = $Matches[1] }
            if ($value -and [string]::IsNullOrEmpty([Environment]::GetEnvironmentVariable($key))) {
                [Environment]::SetEnvironmentVariable($key, $value)
            }
        }
    }
}
# HOMEROOM_ENV_FILE stays as it is (Windows cannot hold an empty variable: '' would unset it and
# point the app at .env): the app reads the same file again, and the environment set above wins.
$env:FLASK_SKIP_DOTENV = '1'

& $VenvPython -m flask --app wsgi config check | Out-Null
if ($LASTEXITCODE -ne 0) { Stop-WithError 'the configuration is invalid (see the problems listed above)' 78 }
if ($Check) { exit 0 }

Write-Step 'Database'
$wait = if ($env:DB_WAIT_TIMEOUT) { $env:DB_WAIT_TIMEOUT } else { '60' }
& $VenvPython -m flask --app wsgi wait-for-db --timeout $wait
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
& $VenvPython -m flask --app wsgi db upgrade
if ($LASTEXITCODE -ne 0) { Stop-WithError 'migrations failed' }
Write-Info 'migrations are at head'
if ($MigrateOnly) { exit 0 }

$port = if ($env:PORT) { $env:PORT } else { '8000' }
$threads = if ($env:GUNICORN_THREADS) { $env:GUNICORN_THREADS } else { '4' }
Write-Step "Starting waitress on port $port of every interface (0.0.0.0): http://127.0.0.1:$port from this machine"
if (-not $env:SMTP_URL) {
    Write-Info 'SMTP_URL is not set: email stays queued in the outbox (see it with: .venv\Scripts\flask --app wsgi outbox status)'
}
# Background jobs (scheduled announcements, the Xero sync) need the runner even without mail.
Write-Info 'starting the runner of mail and background jobs (flask outbox run) beside waitress'
$sender = Start-Process -FilePath $VenvPython -ArgumentList '-m', 'flask', '--app', 'wsgi', 'outbox', 'run' -NoNewWindow -PassThru
try {
    & $VenvPython -m waitress "--listen=0.0.0.0:$port" "--threads=$threads" "--ident=homeroom" wsgi:application
    $code = $LASTEXITCODE
} finally {
    if ($sender -and -not $sender.HasExited) { Stop-Process -Id $sender.Id }
}
exit $code
