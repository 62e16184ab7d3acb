<#
.SYNOPSIS
  Adds the Entra Connect rule that lets dualsync convert synced users: no
  onPremisesUserPrincipalName for the users dualsync converts in this
  server's tenant. Run it on the resource tenant's Connect server.
  See doc/deployment.md, "Entra Connect: the rule that makes conversion
  possible".

.DESCRIPTION
  Entra refuses to convert a synced user whose cloud object has
  onPremisesUserPrincipalName, and Connect's out-of-box rules write it for
  every user ("Invite internal users to B2B collaboration", Microsoft Learn).

  This adds one inbound synchronization rule from the AD connector that
  flows AuthoritativeNull into the metaverse attribute
  onPremisesUserPrincipalName, for the users the scope groups describe (the
  AD attribute and values dualsync's rules convert on), at a precedence
  before the out-of-box rule that fills it ('In from AD - User Common'). No
  lower-precedence rule can then give those users a value, the out-of-box
  outbound rules have nothing to send, and Connect removes the value from
  Entra ("Fix default rules", Overriding value of existing attribute;
  "Understanding Declarative Provisioning", AuthoritativeNull). The
  out-of-box rules are not edited: an upgrade replaces edited ones.

  Then it exports the server's configuration (Get-ADSyncServerConfiguration)
  so that `dualsync check --connect-config DIR --tenant T` can confirm that
  the rule covers every user dualsync converts.

  Nothing changes in Entra until the next synchronization cycle; a new rule
  needs a full synchronization (Start-ADSyncSyncCycle -PolicyType Initial),
  which this script does not start.

.PARAMETER ScopeGroup
  One string per scope group: clauses "ATTRIBUTE OPERATOR [VALUE]" joined by
  " AND ", on AD attributes. The rule applies to a user when any group holds.
  Operators: those of Connect's scoping filters (EQUAL, NOTEQUAL, ISNULL,
  ISNOTNULL, STARTSWITH, ENDSWITH, ...). `dualsync check --connect-config`
  on the untouched export suggests one.

.PARAMETER Precedence
  The rule's precedence: 1 to 99 (custom rules live below Microsoft's, from
  100 on), below every inbound rule that fills onPremisesUserPrincipalName.
  Default 90.

.PARAMETER ConnectorName
  The AD connector (the forest name). Default: the only AD connector.

.PARAMETER ExportPath
  Where to export the configuration afterwards. Default:
  %ProgramData%\dualsync\connect-export-<time>.

.EXAMPLE
  .\New-DualsyncConnectRule.ps1 -ScopeGroup 'extensionAttribute1 EQUAL commercial',
      'extensionAttribute1 ISNULL AND userPrincipalName ENDSWITH @contoso.example' -WhatIf
  Shows the rule for the GCC High tenant of doc/examples/defense-contractor.conf
  (its users at home in Commercial), without creating it.
#>
[CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
param(
    [Parameter(Mandatory)] [string[]] $ScopeGroup,
    [ValidateRange(1, 99)] [int] $Precedence = 90,
    [string] $ConnectorName,
    [string] $Name = 'In from AD - User dualsync no onPremisesUserPrincipalName',
    [string] $ExportPath = (Join-Path $env:ProgramData ('dualsync\connect-export-{0:yyyyMMdd-HHmmss}' -f (Get-Date)))
)
$ErrorActionPreference = 'Stop'
$Attribute = 'onPremisesUserPrincipalName'

# Connect's scoping operators ("Understanding Declarative Provisioning", Scope;
# ISBITNOTSET is how exports spell ISNOTBITSET)
$operators = 'EQUAL', 'NOTEQUAL', 'LESSTHAN', 'LESSTHAN_OR_EQUAL', 'GREATERTHAN', 'GREATERTHAN_OR_EQUAL',
    'CONTAINS', 'NOTCONTAINS', 'STARTSWITH', 'NOTSTARTSWITH', 'ENDSWITH', 'NOTENDSWITH', 'ISNULL',
    'ISNOTNULL', 'ISIN', 'ISNOTIN', 'ISBITSET', 'ISNOTBITSET', 'ISBITNOTSET', 'ISMEMBEROF', 'ISNOTMEMBEROF'

# "extensionAttribute1 EQUAL commercial AND c NOTEQUAL US" -> clauses
function ConvertTo-Clauses([string] $Text) {
    foreach ($part in ($Text -split '\s+AND\s+')) {
        $words = $part.Trim() -split '\s+', 3
        if ($words.Count -lt 2 -or $operators -notcontains $words[1].ToUpperInvariant()) {
            throw "-ScopeGroup '$Text': '$part' is not 'ATTRIBUTE OPERATOR [VALUE]' (operators: $($operators -join ', '))"
        }
        $op = $words[1].ToUpperInvariant()
        $value = if ($words.Count -eq 3) { $words[2] } else { '' }
        if ($value -eq '' -and $op -ne 'ISNULL' -and $op -ne 'ISNOTNULL') {
            throw "-ScopeGroup '$Text': $op needs a value"
        }
        [pscustomobject]@{ Attribute = $words[0]; Operator = $op; Value = $value }
    }
}
$groups = @(foreach ($g in $ScopeGroup) { , @(ConvertTo-Clauses $g) })

Import-Module ADSync
$ad = @(Get-ADSyncConnector | Where-Object { $_.ConnectorTypeName -eq 'AD' })
if ($ConnectorName) { $ad = @($ad | Where-Object { $_.Name -eq $ConnectorName }) }
if ($ad.Count -ne 1) {
    throw ("{0} AD connectors{1}: name the one of the forest dualsync reads with -ConnectorName" -f
        $ad.Count, $(if ($ConnectorName) { " named '$ConnectorName'" } else { '' }))
}
$ad = $ad[0]

$rules = @(Get-ADSyncRule)
$same = @($rules | Where-Object { $_.Name -eq $Name -and $_.Connector -eq $ad.Identifier })
if ($same) {
    throw "the rule '$Name' is there already (precedence $($same[0].Precedence)); remove it in the Synchronization Rules Editor first, or give another -Name"
}
$taken = @($rules | Where-Object { $_.Precedence -eq $Precedence })
if ($taken) {
    throw "precedence $Precedence is taken by '$($taken[0].Name)'; choose a free one from 1 to 99 with -Precedence"
}
# the inbound rules that fill the attribute from this forest: ours must come first
$feeding = @($rules | Where-Object {
        $_.Direction -eq 'Inbound' -and $_.Connector -eq $ad.Identifier -and -not $_.Disabled -and
        @($_.AttributeFlowMappings | Where-Object { $_.Destination -eq $Attribute }).Count })
foreach ($r in $feeding) {
    if ($r.Precedence -le $Precedence) {
        throw "'$($r.Name)' (precedence $($r.Precedence)) fills $Attribute before precedence $Precedence; give -Precedence below $($r.Precedence)"
    }
}

Write-Host "inbound rule '$Name' on connector '$($ad.Name)', precedence $Precedence"
Write-Host "  $Attribute <- AuthoritativeNull (no lower-precedence rule may fill it)"
Write-Host "  for users where:"
foreach ($g in $groups) {
    Write-Host ('    ' + (($g | ForEach-Object { "$($_.Attribute) $($_.Operator) $($_.Value)".TrimEnd() }) -join ' AND '))
}
Write-Host ("  before: " + (($feeding | Sort-Object Precedence | ForEach-Object { "'$($_.Name)' ($($_.Precedence))" }) -join ', '))

if ($PSCmdlet.ShouldProcess("Entra Connect on $env:COMPUTERNAME", "add the inbound rule '$Name'")) {
    New-ADSyncRule -Name $Name `
        -Description 'dualsync: the users it converts to B2B in this tenant must not carry onPremisesUserPrincipalName (scripts/New-DualsyncConnectRule.ps1)' `
        -Direction 'Inbound' -Precedence $Precedence `
        -PrecedenceAfter '00000000-0000-0000-0000-000000000000' -PrecedenceBefore '00000000-0000-0000-0000-000000000000' `
        -SourceObjectType 'user' -TargetObjectType 'person' -Connector $ad.Identifier -LinkType 'Join' `
        -SoftDeleteExpiryInterval 0 -ImmutableTag '' -OutVariable syncRule | Out-Null
    Add-ADSyncAttributeFlowMapping -SynchronizationRule $syncRule[0] -Destination $Attribute `
        -FlowType 'Expression' -ValueMergeType 'Update' -Expression 'AuthoritativeNull' -OutVariable syncRule | Out-Null
    foreach ($g in $groups) {
        $conditions = @(foreach ($c in $g) {
                New-Object -TypeName 'Microsoft.IdentityManagement.PowerShell.ObjectModel.ScopeCondition' `
                    -ArgumentList $c.Attribute, $c.Value, $c.Operator
            })
        Add-ADSyncScopeConditionGroup -SynchronizationRule $syncRule[0] -ScopeConditions $conditions `
            -OutVariable syncRule | Out-Null
    }
    Add-ADSyncRule -SynchronizationRule $syncRule[0] | Out-Null
    Write-Host "added. The values already in Entra go at the next full synchronization:"
    Write-Host "  Start-ADSyncSyncCycle -PolicyType Initial"
}

if ($PSCmdlet.ShouldProcess($ExportPath, 'export the Connect configuration (Get-ADSyncServerConfiguration)')) {
    Get-ADSyncServerConfiguration -Path $ExportPath
    Write-Host "exported to $ExportPath; check it here with dualsync.exe (or on the host that runs dualsync):"
    Write-Host "  dualsync check --connect-config `"$ExportPath`" --tenant <this tenant>"
}
