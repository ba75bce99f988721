# == Class: tripleo_ovn_metadata::profile::ovn_metadata
#
# The OVN metadata agent (neutron_ovn_metadata_agent.ini) through
# neutron::agents::ovn_metadata, applied from step 4 on top of the base
# neutron settings of tripleo_ovn_metadata::profile::neutron.
#
# Every other agent setting (shared secret, metadata host/port/protocol,
# ovsdb connection, timeouts, probe interval, workers, debug) comes from the
# neutron::agents::ovn_metadata::* hiera keys by automatic parameter lookup.
#
# It also includes tripleo_ovn_metadata::profile::haproxy_sidecar, whose
# tripleo_ovn_metadata::profile::haproxy_sidecar::* hiera keys (the template's
# OVNEnableHaproxyDockerWrapper) decide whether haproxy runs as sidecars.
#
# On baremetal (no containers) ovn-controller's Service['controller'] is
# ordered before the agent's Service['ovn-metadata'] when both are in the
# catalog.
#
# === Parameters
#
# [*ovn_db_host*]
#   (optional) The OVN southbound database address: one IP address or host
#   name, or a non-empty list of them (one remote each). Used unless the DBs
#   are clustered.
#   Defaults to lookup('ovn_dbs_vip', undef, undef, undef)
#
# [*ovn_db_clustered*]
#   (optional) Whether the OVN DBs run as a raft cluster (THT's
#   ovn-dbs-cluster-ansible.yaml sets ovn_db_clustered); the agent then gets
#   one remote per DB node instead of the VIP.
#   Defaults to lookup('ovn_db_clustered', undef, undef, false)
#
# [*ovn_db_node_ips*]
#   (optional) The OVN DB nodes' addresses, for a clustered southbound DB.
#   Defaults to lookup('ovn_dbs_node_ips', undef, undef, [])
#
# [*ovn_sb_port*]
#   (optional) Port of the OVN southbound database.
#   Defaults to lookup('ovn::southbound::port')
#
# [*protocol*]
#   (optional) 'tcp', or 'ssl' to connect with the certificate below.
#   Defaults to 'tcp'
#
# [*ovn_sb_ca_cert*]
#   (optional) CA certificate checking the southbound database (ssl only).
#   Defaults to undef
#
# [*ovn_sb_certificate*]
#   (optional) The agent's client certificate (ssl only).
#   Defaults to undef
#
# [*ovn_sb_private_key*]
#   (optional) The agent's private key (ssl only).
#   Defaults to undef
#
# [*metadata_workers*]
#   (optional) Metadata proxy worker processes. The service template sets the
#   neutron::agents::ovn_metadata::metadata_workers hiera key only when the
#   operator chose a number; unset leaves DEFAULT/metadata_workers out of the
#   ini (the agent picks a system-dependent default) instead of neutron
#   21.0.0's hard-coded 2.
#   Defaults to lookup('neutron::agents::ovn_metadata::metadata_workers',
#   undef, undef, $facts['os_service_default'])
#
# [*step*]
#   (optional) The current deployment step; nothing happens before step 4.
#   Defaults to Integer(lookup('step'))
#
class tripleo_ovn_metadata::profile::ovn_metadata (
  $ovn_db_host                            = lookup('ovn_dbs_vip', undef, undef, undef),
  Boolean $ovn_db_clustered               = lookup('ovn_db_clustered', undef, undef, false),
  $ovn_db_node_ips                        = lookup('ovn_dbs_node_ips', undef, undef, []),
  $ovn_sb_port                            = lookup('ovn::southbound::port'),
  Enum['tcp', 'ssl'] $protocol            = 'tcp',
  Optional[String[1]] $ovn_sb_ca_cert     = undef,
  Optional[String[1]] $ovn_sb_certificate = undef,
  Optional[String[1]] $ovn_sb_private_key = undef,
  $metadata_workers                       = lookup(
    'neutron::agents::ovn_metadata::metadata_workers', undef, undef, $facts['os_service_default']
  ),
  Integer $step                           = Integer(lookup('step')),
) {
  if $step >= 4 {
    if $ovn_db_clustered {
      $hosts = any2array($ovn_db_node_ips)
      $source = 'ovn_dbs_node_ips (clustered)'
    } else {
      $hosts = any2array($ovn_db_host)
      $source = 'ovn_dbs_vip'
    }
    if empty($hosts) or !($hosts =~ Array[Stdlib::Host]) {
      fail("${source} must be an IP address or host name, or a non-empty list of them; got ${hosts}")
    }
    unless $ovn_sb_port =~ Stdlib::Port or $ovn_sb_port =~ Pattern[/\A[0-9]{1,5}\z/] {
      fail("ovn::southbound::port must be a port number; got ${ovn_sb_port}")
    }

    # NOTE: neutron 21.0.0 takes an undef or empty secret and writes no
    # metadata_proxy_shared_secret; Nova would then refuse every request.
    $shared_secret = lookup('neutron::agents::ovn_metadata::shared_secret', undef, undef, undef)
    unless $shared_secret =~ String[1] {
      fail('neutron::agents::ovn_metadata::shared_secret (NeutronMetadataProxySharedSecret) must be a non-empty string')
    }

    if $protocol == 'ssl' {
      if !$ovn_sb_ca_cert or !$ovn_sb_certificate or !$ovn_sb_private_key {
        fail('protocol ssl needs ovn_sb_ca_cert, ovn_sb_certificate and ovn_sb_private_key')
      }
      $tls = {
        'ovn_sb_ca_cert'     => $ovn_sb_ca_cert,
        'ovn_sb_certificate' => $ovn_sb_certificate,
        'ovn_sb_private_key' => $ovn_sb_private_key,
      }
    } else {
      $tls = {}
    }

    include tripleo_ovn_metadata::profile::neutron
    include tripleo_ovn_metadata::profile::haproxy_sidecar

    $remotes = any2array(normalize_ip_for_uri($hosts)).map |$host| { "${protocol}:${host}:${ovn_sb_port}" }

    class { 'neutron::agents::ovn_metadata':
      ovn_sb_connection => join($remotes, ','),
      metadata_workers  => $metadata_workers,
      *                 => $tls,
    }

    Service<| title == 'controller' |> -> Service<| title == 'ovn-metadata' |>
  }
}
