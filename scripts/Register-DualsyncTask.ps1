<#
.SYNOPSIS
  Runs `dualsync run` on the Entra Connect server after each completed ADSync
  cycle, from a scheduled task. See doc/deployment.md.

.DESCRIPTION
  Register (once, as an administrator):
    .\Register-DualsyncTask.ps1 -Register -User 'CONTOSO\svc-dualsync$'
  The task starts this script with -Check every few minutes. -Check does
  nothing while a cycle is running or on a staging server; otherwise it
  looks at Connect's run history, and if an export to Entra ID ended after
  the last one it handled, it runs `dualsync run` once, logs the outcome to
  the Application event log (source "dualsync") and to a file, and remembers
  that export's end time.

  Why poll the run history rather than trigger on an event: the ADSync
  event IDs for "cycle finished" are not documented by Microsoft; the run
  history (Get-ADSyncRunProfileResult) and the scheduler state
  (Get-ADSyncScheduler, SyncCycleInProgress) are.

  Remove: .\Register-DualsyncTask.ps1 -Unregister
#>
[CmdletBinding(DefaultParameterSetName = 'Check')]
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
    [string] $TaskName = 'dualsync after ADSync cycle'
)
$ErrorActionPreference = 'Stop'
$State = Join-Path (Split-Path $Config) 'last-export.txt'

function Write-Log([string] $Message, [string] $Type = 'Information', [int] $Id = 1000) {
    $line = '{0:u} {1} {2}' -f (Get-Date).ToUniversalTime(), $Type, $Message
    Add-Content -Path $LogFile -Value $line -Encoding UTF8
    try { Write-EventLog -LogName Application -Source dualsync -EntryType $Type -EventId $Id -Message $Message }
    catch { }   # the file log is enough if the source was not registered
}

if ($Register) {
    # the event source needs an administrator once; the task account then writes to it
    if (-not [System.Diagnostics.EventLog]::SourceExists('dualsync')) {
        New-EventLog -LogName Application -Source dualsync
    }
    $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument (
        '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}" -Check -Dualsync "{1}" -Config "{2}" -LogFile "{3}" -ConnectorLike "{4}"' -f
        $PSCommandPath, $Dualsync, $Config, $LogFile, $ConnectorLike)
    $trigger = New-ScheduledTaskTrigger -Once -At (Get-Date) -RepetitionInterval (New-TimeSpan -Minutes $EveryMinutes)
    # one instance at a time: a long batch makes the next tick wait, not overlap
    $settings = New-ScheduledTaskSettingsSet -MultipleInstances IgnoreNew -StartWhenAvailable `
        -ExecutionTimeLimit (New-TimeSpan -Hours 2)
    $task = @{ TaskName = $TaskName; Action = $action; Trigger = $trigger; Settings = $settings; Force = $true
               Description = 'Runs dualsync run after each completed Entra Connect sync cycle' }
    if ($User.EndsWith('$')) {
        # a gMSA: Windows fetches its password from AD; nothing to type or store
        $task.Principal = New-ScheduledTaskPrincipal -UserId $User -LogonType Password -RunLevel Limited
    } else {
        # an ordinary account: the Task Scheduler stores its password (once, here)
        $cred = Get-Credential -UserName $User -Message 'password of the account that runs dualsync'
        $task.User = $User
        $task.Password = $cred.GetNetworkCredential().Password
    }
    Register-ScheduledTask @task | Out-Null
    Write-Host "registered '$TaskName' (every $EveryMinutes min as $User); log: $LogFile"
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

$out = & $Dualsync -c $Config --no-progress run 2>&1 | Out-String
$code = $LASTEXITCODE
# 0 done, 1 some objects blocked or failed, 2 configuration error, 3 a tenant or the source stopped
$type = switch ($code) {
    0 { 'Information' }
    1 { 'Warning' }
    default { 'Error' }
}
Write-Log "dualsync run after the export of $($export.ConnectorName) ended $ended (result $($export.Result)): exit $code`n$out" $type (1100 + $code)
# remembered only when the batch was not stopped, so a failed run is retried next tick
if ($code -le 1) { Set-Content -Path $State -Value $ended.ToString('o') -Encoding ASCII }
