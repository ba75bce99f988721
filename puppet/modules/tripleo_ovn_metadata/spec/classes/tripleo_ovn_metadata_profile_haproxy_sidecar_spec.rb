require 'spec_helper'

describe 'tripleo_ovn_metadata::profile::haproxy_sidecar' do
  let(:wrapper) { '/etc/neutron/ovn_metadata_haproxy_wrapper' }
  let(:kill) { '/etc/neutron/kill_scripts/haproxy-kill' }
  let(:wrapper_content) { catalogue.resource('file', wrapper)[:content] }

  shared_examples 'tripleo_ovn_metadata::profile::haproxy_sidecar' do
    context 'with sidecars on (the template default)' do
      it { is_expected.to compile.with_all_deps }
      it { is_expected.to contain_ovn_metadata_agent_config('AGENT/kill_scripts_path').with_value('/etc/neutron/kill_scripts') }
      it { is_expected.to contain_file('/etc/neutron/kill_scripts').with(ensure: 'directory', mode: '0755') }
      it { is_expected.to contain_file(wrapper).with(ensure: 'file', mode: '0755').with_tag('ovn_metadata_haproxy_sidecar') }
      it { is_expected.to contain_file(kill).with(ensure: 'file', mode: '0755').with_tag('ovn_metadata_haproxy_sidecar') }

      it 'starts one container per network from the agent image, in the namespace it was run in' do
        expect(wrapper_content).to start_with("#!/bin/bash\n")
        expect(wrapper_content).to include('IMAGE=registry.example.com/neutron-metadata-agent-ovn:spec')
        expect(wrapper_content).to include('netns=$(ip netns identify)')
        expect(wrapper_content).to include('name=$PREFIX$netns')
        expect(wrapper_content).to include('PREFIX=neutron-haproxy-')
        expect(wrapper_content).to include('"$IMAGE" ip netns exec "$netns" /usr/sbin/haproxy -Ws -f "$sidecar_conf"')
        expect(wrapper_content).to include('--ulimit nofile=4096:4096 \\')
        expect(wrapper_content).to include('--ulimit nproc=1024:1024 \\')
        expect(wrapper_content).to include('--volume "$STATE_PATH:$STATE_PATH:shared"')
        expect(wrapper_content).to include('if ok or waited >= 20000 then return end')
        expect(wrapper_content).to include('print "    http-request lua.tripleo_hold"')
        expect(wrapper_content).to include('print "    retry-on conn-failure empty-response 502"')
        expect(wrapper_content).to include('print "    server metadata abns@tripleo-hold"')
        expect(wrapper_content).not_to include('set -x')
      end

      it 'adopts a running sidecar and removes a stale one before starting' do
        adopt = wrapper_content.index('if [ "$state" = running ]')
        remove = wrapper_content.index('host_podman rm --force "$name"')
        run = wrapper_content.index('host_podman run --detach --rm --name "$name"')
        expect([adopt, remove, run]).to all(be_a(Integer))
        expect(adopt).to be < remove
        expect(remove).to be < run
      end

      it 'signals the sidecar by name and removes it on TERM or KILL' do
        content = catalogue.resource('file', kill)[:content]
        expect(content).to include('host_podman kill --signal "$sig" "$name"')
        expect(content).to include('host_podman rm --force --time 5 "$name"')
        expect(content).to include('kill "-$sig" "$pid"')
      end
    end

    context 'with sidecars off' do
      let(:facts) { platform_facts.merge(hiera_case: 'sidecar_off') }

      it { is_expected.to compile.with_all_deps }
      it { is_expected.to contain_ovn_metadata_agent_config('AGENT/kill_scripts_path').with_value('<SERVICE DEFAULT>') }
      it { is_expected.not_to contain_file(wrapper) }
      it { is_expected.not_to contain_file(kill) }
      it { is_expected.not_to contain_file('/etc/neutron/kill_scripts') }
    end

    context 'with debug, another hold time and ulimits' do
      let(:params) { { debug: true, hold_seconds: 3, ulimits: ['nofile=2048:2048'] } }

      it 'traces and uses them' do
        expect(wrapper_content).to include("set -x\n")
        expect(wrapper_content).to include('if ok or waited >= 3000 then return end')
        expect(wrapper_content).to include('--ulimit nofile=2048:2048 \\')
        expect(wrapper_content).not_to include('nproc=')
      end
    end

    context 'with sidecars on but no image' do
      let(:facts) { platform_facts.merge(hiera_case: 'sidecar_no_image') }

      it { is_expected.to compile.and_raise_error(/haproxy_sidecar::image \(ContainerOvnMetadataImage\) is needed when enable is true/) }
    end

    context 'with a malformed ulimit' do
      let(:params) { { ulimits: ['nofile 4096'] } }

      it { is_expected.to compile.and_raise_error(/ulimits/) }
    end

    context 'at step 3' do
      let(:facts) { platform_facts.merge(hiera_case: 'step3') }

      it { is_expected.to compile.with_all_deps }
      it { is_expected.not_to contain_file(wrapper) }
      it { is_expected.not_to contain_ovn_metadata_agent_config('AGENT/kill_scripts_path') }
    end
  end

  supported_platforms.each do |os, os_facts|
    context "on #{os}" do
      let(:platform_facts) { os_facts.merge(os_service_default: '<SERVICE DEFAULT>', os_workers: 2, hiera_case: 'none') }
      let(:facts) { platform_facts }

      it_behaves_like 'tripleo_ovn_metadata::profile::haproxy_sidecar'
    end
  end
end
