# == Class: tripleo_ovn_metadata::profile::haproxy_sidecar
#
# The haproxy sidecars of the OVN metadata agent: a wrapper the agent runs
# instead of haproxy, which starts each network's haproxy as its own container
# (neutron-haproxy-ovnmeta-<net>, from the agent's image) so that it outlives
# the agent's restarts, and the kill script (haproxy-kill in [AGENT]
# kill_scripts_path) through which the agent signals and removes it. With
# enable false neither file is written and kill_scripts_path is left unset:
# the agent runs haproxy itself. Both files are written into the config
# volume (/etc/neutron as Puppet sees it); the service template mounts the
# wrapper over the agent's /usr/local/bin/haproxy, which sudo's secure_path
# finds before /usr/sbin/haproxy.
#
# === Parameters
#
# [*enable*]
#   (optional) Run haproxy as sidecar containers (THT's
#   OVNEnableHaproxyDockerWrapper sets it).
#   Defaults to false
#
# [*image*]
#   (optional) The sidecars' image: the agent's own (ContainerOvnMetadataImage).
#   Required when enable is true.
#   Defaults to undef
#
# [*wrapper_path*]
#   (optional) Where the wrapper is written, as Puppet sees the config volume.
#   Defaults to '/etc/neutron/ovn_metadata_haproxy_wrapper'
#
# [*kill_scripts_path*]
#   (optional) The agent's [AGENT] kill_scripts_path; haproxy-kill is written
#   into it.
#   Defaults to '/etc/neutron/kill_scripts'
#
# [*agent_state_path*]
#   (optional) The agent's state_path, mounted into each sidecar (its haproxy
#   config, pid file and the agent's metadata socket live there).
#   Defaults to '/var/lib/neutron'
#
# [*hold_seconds*]
#   (optional) How long the sidecar's haproxy holds a request while the agent's
#   metadata socket refuses connections (the agent restarting) before passing
#   it on, and failing it; 0 holds nothing.
#   Defaults to 20
#
# [*ulimits*]
#   (optional) podman --ulimit values for each sidecar; podman then sets no
#   others. They must not exceed the agent container's own hard limits.
#   Defaults to ['nofile=4096:4096', 'nproc=1024:1024']
#
# [*debug*]
#   (optional) Trace the wrapper and kill script (set -x) into the agent's log.
#   Defaults to false
#
# [*step*]
#   (optional) The current deployment step; nothing happens before step 4.
#   Defaults to Integer(lookup('step'))
#
class tripleo_ovn_metadata::profile::haproxy_sidecar (
  Boolean $enable                          = false,
  Optional[String[1]] $image               = undef,
  Stdlib::Absolutepath $wrapper_path       = '/etc/neutron/ovn_metadata_haproxy_wrapper',
  Stdlib::Absolutepath $kill_scripts_path  = '/etc/neutron/kill_scripts',
  Stdlib::Absolutepath $agent_state_path   = '/var/lib/neutron',
  Integer[0, 300] $hold_seconds            = 20,
  Array[Pattern[/\A[a-z]+=[0-9]+:[0-9]+\z/]] $ulimits = ['nofile=4096:4096', 'nproc=1024:1024'],
  Boolean $debug                           = false,
  Integer $step                            = Integer(lookup('step')),
) {
  if $step >= 4 {
    include neutron::deps

    if $enable {
      unless $image {
        fail('tripleo_ovn_metadata::profile::haproxy_sidecar::image (ContainerOvnMetadataImage) is needed when enable is true')
      }
      $vars = {
        'image'        => $image,
        'state_path'   => $agent_state_path,
        'hold_seconds' => $hold_seconds,
        'ulimits'      => $ulimits,
        'debug'        => $debug,
      }
      # NOTE: tagged for the template's puppet_tags: container-puppet adds `file`
      # by itself, this project's config generation applies exactly puppet_tags.
      file { $kill_scripts_path:
        ensure => directory,
        mode   => '0755',
        tag    => 'ovn_metadata_haproxy_sidecar',
      }
      file { $wrapper_path:
        ensure  => file,
        mode    => '0755',
        content => epp('tripleo_ovn_metadata/haproxy_sidecar/wrapper.epp', $vars),
        tag     => 'ovn_metadata_haproxy_sidecar',
      }
      file { "${kill_scripts_path}/haproxy-kill":
        ensure  => file,
        mode    => '0755',
        content => epp('tripleo_ovn_metadata/haproxy_sidecar/kill.epp', $vars),
        tag     => 'ovn_metadata_haproxy_sidecar',
      }
      $kill_scripts_value = $kill_scripts_path
    } else {
      $kill_scripts_value = $facts['os_service_default']
    }

    ovn_metadata_agent_config { 'AGENT/kill_scripts_path':
      value => $kill_scripts_value,
    }
  }
}
