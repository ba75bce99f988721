require 'spec_helper'

describe 'tripleo_ovn_metadata::profile::ovn_metadata' do
  shared_examples 'tripleo_ovn_metadata::profile::ovn_metadata' do
    context 'at step 3' do
      let(:facts) { platform_facts.merge(hiera_case: 'step3') }

      it { is_expected.to compile.with_all_deps }
      it { is_expected.not_to contain_class('neutron::agents::ovn_metadata') }
      it { is_expected.not_to contain_class('tripleo_ovn_metadata::profile::neutron') }
      it { is_expected.not_to contain_ovn_metadata_agent_config('ovn/ovn_sb_connection') }
    end

    context 'at step 4 with a single vip, TLS off, workers unset' do
      it { is_expected.to compile.with_all_deps }
      it { is_expected.to contain_class('tripleo_ovn_metadata::profile::neutron') }
      it { is_expected.to contain_class('neutron') }
      it {
        is_expected.to contain_class('neutron::agents::ovn_metadata').with(
          ovn_sb_connection: 'tcp:192.0.2.10:6642',
          shared_secret: 'spec-shared-secret',
          metadata_host: '192.0.2.20',
          metadata_protocol: 'http',
          metadata_workers: '<SERVICE DEFAULT>',
        )
      }
      it { is_expected.to contain_ovn_metadata_agent_config('ovn/ovn_sb_connection').with_value('tcp:192.0.2.10:6642') }
      it { is_expected.to contain_ovn_metadata_agent_config('DEFAULT/metadata_proxy_shared_secret').with_value('spec-shared-secret') }
      it { is_expected.to contain_ovn_metadata_agent_config('DEFAULT/nova_metadata_host').with_value('192.0.2.20') }
      it { is_expected.to contain_ovn_metadata_agent_config('DEFAULT/nova_metadata_protocol').with_value('http') }
      it { is_expected.to contain_ovn_metadata_agent_config('DEFAULT/metadata_workers').with_value('<SERVICE DEFAULT>') }
      it { is_expected.to contain_ovn_metadata_agent_config('DEFAULT/debug').with_value(false) }
      it { is_expected.to contain_ovn_metadata_agent_config('ovs/ovsdb_connection').with_value('tcp:127.0.0.1:6640') }
      it { is_expected.to contain_ovn_metadata_agent_config('ovs/ovsdb_connection_timeout').with_value(180) }
      it { is_expected.to contain_ovn_metadata_agent_config('ovn/ovsdb_probe_interval').with_value(60000) }
      it { is_expected.to contain_ovn_metadata_agent_config('ovn/ovn_sb_ca_cert').with_value('<SERVICE DEFAULT>') }
      it { is_expected.to contain_ovn_metadata_agent_config('ovn/ovn_sb_certificate').with_value('<SERVICE DEFAULT>') }
      it { is_expected.to contain_ovn_metadata_agent_config('ovn/ovn_sb_private_key').with_value('<SERVICE DEFAULT>') }
      it { is_expected.to contain_package('ovn-metadata').with_name(platform_params[:package]) }
      it { is_expected.to contain_service('ovn-metadata').with_name(platform_params[:service]) }
      it { is_expected.to contain_class('tripleo_ovn_metadata::profile::haproxy_sidecar').with_enable(true) }
      it { is_expected.to contain_ovn_metadata_agent_config('AGENT/kill_scripts_path').with_value('/etc/neutron/kill_scripts') }
    end

    context 'with OVNEnableHaproxyDockerWrapper false' do
      let(:facts) { platform_facts.merge(hiera_case: 'sidecar_off') }

      it { is_expected.to contain_class('tripleo_ovn_metadata::profile::haproxy_sidecar').with_enable(false) }
      it { is_expected.to contain_ovn_metadata_agent_config('AGENT/kill_scripts_path').with_value('<SERVICE DEFAULT>') }
      it { is_expected.not_to contain_file('/etc/neutron/ovn_metadata_haproxy_wrapper') }
    end

    context 'with a list of vips, one of them IPv6' do
      let(:facts) { platform_facts.merge(hiera_case: 'vip_list') }

      it {
        is_expected.to contain_ovn_metadata_agent_config('ovn/ovn_sb_connection')
          .with_value('tcp:192.0.2.10:6642,tcp:192.0.2.11:6642,tcp:[2001:db8::12]:6642')
      }
    end

    context 'with the raft-clustered DBs of ovn-dbs-cluster-ansible.yaml' do
      let(:facts) { platform_facts.merge(hiera_case: 'clustered') }

      it 'connects to every DB node, not the VIP' do
        is_expected.to contain_ovn_metadata_agent_config('ovn/ovn_sb_connection')
          .with_value('tcp:192.0.2.10:6642,tcp:192.0.2.11:6642,tcp:192.0.2.12:6642')
      end
    end

    context 'with a one-item vip list and a host name' do
      let(:params) { { ovn_db_host: ['ovn-dbs.example.com'], ovn_sb_port: 16642 } }

      it { is_expected.to contain_ovn_metadata_agent_config('ovn/ovn_sb_connection').with_value('tcp:ovn-dbs.example.com:16642') }
    end

    context 'with TLS on' do
      let(:facts) { platform_facts.merge(hiera_case: 'tls') }

      it { is_expected.to contain_ovn_metadata_agent_config('ovn/ovn_sb_connection').with_value('ssl:192.0.2.10:6642') }
      it { is_expected.to contain_ovn_metadata_agent_config('ovn/ovn_sb_ca_cert').with_value('/etc/ipa/ca.crt') }
      it { is_expected.to contain_ovn_metadata_agent_config('ovn/ovn_sb_certificate').with_value('/etc/pki/tls/certs/ovn_metadata.crt') }
      it { is_expected.to contain_ovn_metadata_agent_config('ovn/ovn_sb_private_key').with_value('/etc/pki/tls/private/ovn_metadata.key') }
      it { is_expected.to contain_ovn_metadata_agent_config('DEFAULT/nova_metadata_protocol').with_value('https') }
    end

    context 'with TLS on but no certificate' do
      let(:params) { { protocol: 'ssl', ovn_sb_ca_cert: '/etc/ipa/ca.crt' } }

      it { is_expected.to compile.and_raise_error(/protocol ssl needs ovn_sb_ca_cert, ovn_sb_certificate and ovn_sb_private_key/) }
    end

    context 'with workers set' do
      let(:facts) { platform_facts.merge(hiera_case: 'workers') }

      it { is_expected.to contain_ovn_metadata_agent_config('DEFAULT/metadata_workers').with_value(4) }
    end

    context 'with debug on' do
      let(:facts) { platform_facts.merge(hiera_case: 'debug') }

      it { is_expected.to contain_ovn_metadata_agent_config('DEFAULT/debug').with_value(true) }
      it { is_expected.to contain_neutron_config('DEFAULT/debug').with_value(true) }
    end

    context 'without a shared secret' do
      let(:facts) { platform_facts.merge(hiera_case: 'no_secret') }

      it { is_expected.to compile.and_raise_error(/shared_secret \(NeutronMetadataProxySharedSecret\) must be a non-empty string/) }
    end

    [
      ['an empty list', []],
      ['an address with a space', '192.0.2.10 192.0.2.11'],
      ['a list with an empty string', ['192.0.2.10', '']],
      ['a number', 42],
    ].each do |what, vip|
      context "with #{what} as vip" do
        let(:params) { { ovn_db_host: vip } }

        it { is_expected.to compile.and_raise_error(/ovn_dbs_vip must be an IP address or host name, or a non-empty list of them/) }
      end
    end

    context 'with a malformed port' do
      let(:params) { { ovn_sb_port: 'sixty' } }

      it { is_expected.to compile.and_raise_error(/ovn::southbound::port must be a port number/) }
    end

    context 'on baremetal with ovn-controller in the catalog' do
      let(:pre_condition) { "service { 'controller': name => 'ovn-controller' }" }

      it { is_expected.to contain_service('ovn-metadata').that_requires('Service[controller]') }
    end
  end

  supported_platforms.each do |os, os_facts|
    context "on #{os}" do
      let(:platform_facts) { os_facts.merge(os_service_default: '<SERVICE DEFAULT>', os_workers: 2, hiera_case: 'none') }
      let(:facts) { platform_facts }
      let(:platform_params) do
        if os_facts[:osfamily] == 'RedHat'
          { package: 'openstack-neutron-ovn-metadata-agent', service: 'neutron-ovn-metadata-agent' }
        else
          { package: 'neutron-ovn-metadata-agent', service: 'neutron-ovn-metadata-agent' }
        end
      end

      it_behaves_like 'tripleo_ovn_metadata::profile::ovn_metadata'
    end
  end
end
