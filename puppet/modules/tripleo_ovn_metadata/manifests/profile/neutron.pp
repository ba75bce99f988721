# == Class: tripleo_ovn_metadata::profile::neutron
#
# The base neutron settings every neutron service on the node shares
# (neutron.conf): the neutron class, neutron::config and neutron::logging,
# applied from step 3 like TripleO's base neutron profile.
#
# === Parameters
#
# [*step*]
#   (optional) The current deployment step; nothing happens before step 3.
#   Defaults to Integer(lookup('step'))
#
# [*debug*]
#   (optional) Debug logging for every neutron service (DEFAULT/debug in
#   neutron.conf). Read from the hiera key neutron::debug, which the service
#   template sets and which neutron 21.0.0's own classes do not consume.
#   Defaults to lookup('neutron::debug', Boolean, 'first', false)
#
# [*oslo_messaging_rpc_hosts*]
#   (optional) RPC broker host(s); when empty the transport URLs are left to
#   neutron's defaults (the OVN metadata agent talks to OVSDB, not RPC).
#   Defaults to lookup('oslo_messaging_rpc_node_names', undef, undef, [])
#
# [*oslo_messaging_rpc_scheme*]
#   (optional) RPC transport scheme.
#   Defaults to lookup('oslo_messaging_rpc_scheme', undef, undef, 'rabbit')
#
# [*oslo_messaging_rpc_port*]
#   (optional) RPC broker port.
#   Defaults to lookup('oslo_messaging_rpc_port', undef, undef, '5672')
#
# [*oslo_messaging_rpc_user_name*]
#   (optional) RPC broker user.
#   Defaults to lookup('oslo_messaging_rpc_user_name', undef, undef, 'guest')
#
# [*oslo_messaging_rpc_password*]
#   (optional) RPC broker password (a secret: neutron_config marks
#   transport_url secret).
#   Defaults to lookup('oslo_messaging_rpc_password', undef, undef, undef)
#
# [*oslo_messaging_rpc_use_ssl*]
#   (optional) Use TLS towards the RPC broker.
#   Defaults to lookup('oslo_messaging_rpc_use_ssl', undef, undef, false)
#
class tripleo_ovn_metadata::profile::neutron (
  Integer $step                  = Integer(lookup('step')),
  Boolean $debug                 = lookup('neutron::debug', Boolean, 'first', false),
  $oslo_messaging_rpc_hosts      = any2array(lookup('oslo_messaging_rpc_node_names', undef, undef, [])),
  $oslo_messaging_rpc_scheme     = lookup('oslo_messaging_rpc_scheme', undef, undef, 'rabbit'),
  $oslo_messaging_rpc_port       = lookup('oslo_messaging_rpc_port', undef, undef, '5672'),
  $oslo_messaging_rpc_user_name  = lookup('oslo_messaging_rpc_user_name', undef, undef, 'guest'),
  $oslo_messaging_rpc_password   = lookup('oslo_messaging_rpc_password', undef, undef, undef),
  Boolean $oslo_messaging_rpc_use_ssl = lookup('oslo_messaging_rpc_use_ssl', undef, undef, false),
) {
  if $step >= 3 {
    if empty($oslo_messaging_rpc_hosts) {
      $default_transport_url = $facts['os_service_default']
    } else {
      $default_transport_url = os_transport_url({
        'transport' => $oslo_messaging_rpc_scheme,
        'hosts'     => $oslo_messaging_rpc_hosts,
        'port'      => $oslo_messaging_rpc_port,
        'username'  => $oslo_messaging_rpc_user_name,
        'password'  => $oslo_messaging_rpc_password,
        'ssl'       => $oslo_messaging_rpc_use_ssl ? { true => '1', default => '0' },
      })
    }

    class { 'neutron':
      default_transport_url => $default_transport_url,
    }
    include neutron::config
    class { 'neutron::logging':
      debug => $debug,
    }
  }
}
