<#
.SYNOPSIS
  Runs `dualsync run` on the Entra Connect server after each completed ADSync
  cycle, from a scheduled task. See doc/deployment.md.

.DESCRIPTION
  Register (once, as an administrator):
    .\Register-DualsyncTask.ps1 -Register -User 'CONTOSO\svc-dualsync$' -Tenant commercial
  Show the task it would register, and register nothing:
    .\Register-DualsyncTask.ps1 -Register -User 'CONTOSO\svc-dualsync$' -Tenant commercial -WhatIf
  The task starts this script with -Check every few minutes. -Check does
  nothing while a cycle is running or on a staging server; otherwise it
  looks at Connect's run history, and if an export to Entra ID ended after
  the last one it handled, it runs `dualsync run --tenant T` once for the
  one tenant this server's Entra connector exports to, logs the outcome to
  a file (dualsync.exe itself writes it to the Application event log,
  source "dualsync", events 1100-1103), and remembers that export's end
  time.

  One Connect server per tenant, one host per tenant: a task on each
  Connect server, for its own tenant only. -Tenant names it; without it the
  configuration must have exactly one [tenant] section. Two hosts running
  one tenant would keep two mapping files and two audit trails for it.

  Why poll the run history rather than trigger on an event: the ADSync
  event IDs for "cycle finished" are not documented by Microsoft; the run
  history (Get-ADSyncRunProfileResult) and the scheduler state
  (Get-ADSyncScheduler, SyncCycleInProgress) are.

  Remove: .\Register-DualsyncTask.ps1 -Unregister
#>
[CmdletBinding(DefaultParameterSetName = 'Check', SupportsShouldProcess)]
param(
    [Parameter(ParameterSetName = 'Register')] [switch] $Register,
    [Parameter(ParameterSetName = 'Unregister')] [switch] $Unregister,
    [Parameter(ParameterSetName = 'Check')] [switch] $Check,
    # the account the task runs as: a gMSA (ends in $, no password) or a
    # service account; it needs read access to AD and to the config's secrets
    [Parameter(ParameterSetName = 'Register', Mandatory)] [string] $User,
    [string] $Dualsync = "$env:ProgramFiles\dualsync\dualsync.exe",
    [string] $Config = "$env:ProgramData\dualsync\dualsync.conf",
    [string] $LogFile = "$env:ProgramData\dualsync\dualsync-task.log",
    # export runs of these connectors count (Entra connectors are named
    # "<tenant>.onmicrosoft.com - AAD")
    [string] $ConnectorLike = '*- AAD',
    [int] $EveryMinutes = 5,
    [string] $TaskName = 'dualsync after ADSync cycle',
    # the [tenant NAME] of the configuration that this server's Entra
    # connector exports to; the only one when the configuration has one
    [string] $Tenant
)
$ErrorActionPreference = 'Stop'
$State = Join-Path (Split-Path $Config) 'last-export.txt'

function Write-Log([string] $Message, [string] $Type = 'Information', [int] $Id = 1000) {
    $line = '{0:u} {1} {2}' -f (Get-Date).ToUniversalTime(), $Type, $Message
    Add-Content -Path $LogFile -Value $line -Encoding UTF8
    try { Write-EventLog -LogName Application -Source dualsync -EntryType $Type -EventId $Id -Message $Message }
    catch { }   # the file log is enough if the source was not registered
}

# The one tenant of this server: -Tenant, or the configuration's only one.
function Get-ServerTenant {
    $names = @(Select-String -Path $Config -Pattern '^\s*\[tenant\s+([A-Za-z0-9_-]+)\s*\]' |
        ForEach-Object { $_.Matches[0].Groups[1].Value })
    if ($Tenant) {
        if ($names -notcontains $Tenant) {
            throw "$Config has no [tenant $Tenant] (it has: $($names -join ', '))"
        }
        return $Tenant
    }
    if ($names.Count -eq 1) { return $names[0] }
    throw ("$Config has the tenants $($names -join ', '): give -Tenant, the one whose Entra " +
           'connector this server exports to (each tenant is run by exactly one host)')
}

# The task, as Task Scheduler XML (schema 1.2): what -WhatIf prints is what
# is registered.
function Get-TaskXml([string] $ForTenant) {
    $esc = { param($s) [System.Security.SecurityElement]::Escape($s) }
    $arguments = ('-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}" -Check -Dualsync "{1}" ' +
                  '-Config "{2}" -LogFile "{3}" -ConnectorLike "{4}" -Tenant "{5}"') -f
        $PSCommandPath, $Dualsync, $Config, $LogFile, $ConnectorLike, $ForTenant
    # a gMSA (name ends in $): Windows fetches its password from AD; an
    # ordinary account: the Task Scheduler keeps the password given at
    # registration. Either way the task runs whether anyone is logged on.
    $start = (Get-Date).ToString('s')
    return @"
<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>Runs dualsync run --tenant $(& $esc $ForTenant) after each completed Entra Connect sync cycle</Description>
  </RegistrationInfo>
  <Triggers>
    <TimeTrigger>
      <StartBoundary>$start</StartBoundary>
      <Repetition><Interval>PT$($EveryMinutes)M</Interval><StopAtDurationEnd>false</StopAtDurationEnd></Repetition>
      <Enabled>true</Enabled>
    </TimeTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>$(& $esc $User)</UserId>
      <LogonType>Password</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <StartWhenAvailable>true</StartWhenAvailable>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT2H</ExecutionTimeLimit>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>powershell.exe</Command>
      <Arguments>$(& $esc $arguments)</Arguments>
    </Exec>
  </Actions>
</Task>
"@
}

# What this server exports to: its Entra connectors ("<tenant domain> - AAD").
# One Connect server per tenant, so one; more or none is said before
# anything is registered, since the task's tenant must be this server's.
function Test-ServerConnector([string] $ForTenant) {
    if (-not (Get-Module -ListAvailable ADSync)) {
        Write-Warning 'the ADSync module is not here: is this the Entra Connect server? The task runs only on one.'
        return
    }
    Import-Module ADSync
    $entra = @(Get-ADSyncConnector | Where-Object { $_.Name -like $ConnectorLike } | ForEach-Object { $_.Name })
    if ($entra.Count -eq 0) {
        throw "this Connect server has no Entra connector like '$ConnectorLike': nothing to follow"
    }
    if ($entra.Count -gt 1) {
        Write-Warning ("this server exports to $($entra.Count) Entra connectors ($($entra -join '; ')); " +
                       "the task runs tenant $ForTenant only: check that it is one of them")
    } else {
        Write-Host "this server exports to $($entra[0]); the task runs dualsync for tenant $ForTenant"
    }
}

if ($Register) {
    $serverTenant = Get-ServerTenant
    Test-ServerConnector $serverTenant
    $xml = Get-TaskXml $serverTenant
    if (-not $PSCmdlet.ShouldProcess("task '$TaskName' as $User for tenant $serverTenant", 'register')) {
        # -WhatIf: the task, and nothing registered
        Write-Output $xml
        return
    }
    # the event source needs an administrator once; dualsync.exe, run as the
    # task's account, then writes to it
    if (-not [System.Diagnostics.EventLog]::SourceExists('dualsync')) {
        New-EventLog -LogName Application -Source dualsync
    }
    $task = @{ TaskName = $TaskName; Xml = $xml; Force = $true }
    if (-not $User.EndsWith('$')) {
        # an ordinary account: the Task Scheduler stores its password (once, here)
        $cred = Get-Credential -UserName $User -Message 'password of the account that runs dualsync'
        $task.User = $User
        $task.Password = $cred.GetNetworkCredential().Password
    }
    Register-ScheduledTask @task | Out-Null
    Write-Host "registered '$TaskName' (every $EveryMinutes min as $User, tenant $serverTenant); log: $LogFile"
    return
}

if ($Unregister) {
    Unregister-ScheduledTask -TaskName $TaskName -Confirm:$false
    Write-Host "removed '$TaskName'"
    return
}

# ---- -Check: the task's run ------------------------------------------------
Import-Module ADSync
$scheduler = Get-ADSyncScheduler
if ($scheduler.StagingModeEnabled) {
    # a staging server exports nothing: converting from here would race the active server
    Write-Log 'this Entra Connect server is in staging mode: dualsync does not run here' 'Warning' 1001
    return
}
if ($scheduler.SyncCycleInProgress) { return }          # look again at the next tick

# the newest finished export to an Entra connector
$export = Get-ADSyncRunProfileResult -NumberRequested 50 |
    Where-Object { $_.ConnectorName -like $ConnectorLike -and $_.RunProfileName -like '*Export*' -and $_.EndDate } |
    Sort-Object EndDate -Descending | Select-Object -First 1
if (-not $export) { return }
$last = if (Test-Path $State) { [datetime]::Parse((Get-Content $State -Raw).Trim()).ToUniversalTime() } else { [datetime]::MinValue }
$ended = ([datetime]$export.EndDate).ToUniversalTime()
if ($ended -le $last) { return }                         # already handled

if ($export.Result -eq 'stopped-deletion-threshold-exceeded') {
    # Connect's own delete guard tripped: the tenant is not in the state AD describes
    Write-Log "the export of $($export.ConnectorName) at $ended stopped at the deletion threshold; dualsync waits for an administrator" 'Warning' 1002
    return
}

$serverTenant = Get-ServerTenant
# dualsync.exe writes the outcome to the Application event log itself
$out = & $Dualsync -c $Config --no-progress run --tenant $serverTenant 2>&1 | Out-String
$code = $LASTEXITCODE
# 0 done, 1 some objects blocked or failed, 2 configuration error, 3 a tenant or the source stopped
$type = switch ($code) {
    0 { 'Information' }
    1 { 'Warning' }
    default { 'Error' }
}
$line = '{0:u} {1} dualsync run --tenant {2} after the export of {3} ended {4} (result {5}): exit {6}' -f
    (Get-Date).ToUniversalTime(), $type, $serverTenant, $export.ConnectorName, $ended, $export.Result, $code
Add-Content -Path $LogFile -Value "$line`n$out" -Encoding UTF8
# remembered only when the batch was not stopped, so a failed run is retried next tick
if ($code -le 1) { Set-Content -Path $State -Value $ended.ToString('o') -Encoding ASCII }
