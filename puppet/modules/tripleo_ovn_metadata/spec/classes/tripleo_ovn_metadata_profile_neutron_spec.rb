require 'spec_helper'

describe 'tripleo_ovn_metadata::profile::neutron' do
  shared_examples 'tripleo_ovn_metadata::profile::neutron' do
    context 'at step 3 with no RPC hosts' do
      let(:params) { { step: 3 } }

      it { is_expected.to compile.with_all_deps }
      it { is_expected.to contain_class('neutron').with_default_transport_url('<SERVICE DEFAULT>') }
      it { is_expected.to contain_class('neutron::config') }
      it { is_expected.to contain_class('neutron::logging').with_debug(false) }
      it { is_expected.to contain_neutron_config('DEFAULT/host').with_value('compute-0.example.com') }
      it { is_expected.to contain_neutron_config('DEFAULT/debug').with_value(false) }
      it { is_expected.to contain_neutron_config('DEFAULT/transport_url').with_value('<SERVICE DEFAULT>') }
    end

    context 'at step 2' do
      let(:params) { { step: 2 } }

      it { is_expected.to compile.with_all_deps }
      it { is_expected.not_to contain_class('neutron') }
      it { is_expected.not_to contain_class('neutron::logging') }
    end

    context 'with step 3 from hiera and neutron::debug set' do
      let(:facts) { platform_facts.merge(hiera_case: 'debug') }

      it { is_expected.to contain_class('neutron::logging').with_debug(true) }
      it { is_expected.to contain_neutron_config('DEFAULT/debug').with_value(true) }
    end

    context 'with RPC hosts' do
      let(:facts) { platform_facts.merge(hiera_case: 'rpc') }

      it {
        is_expected.to contain_neutron_config('DEFAULT/transport_url')
          .with_value('rabbit://guest:spec-rpc-password@rabbit-0.example.com:5672/?ssl=0')
          .with_secret(true)
      }
    end
  end

  supported_platforms.each do |os, os_facts|
    context "on #{os}" do
      let(:platform_facts) { os_facts.merge(os_service_default: '<SERVICE DEFAULT>', os_workers: 2, hiera_case: 'none') }
      let(:facts) { platform_facts }

      it_behaves_like 'tripleo_ovn_metadata::profile::neutron'
    end
  end
end
