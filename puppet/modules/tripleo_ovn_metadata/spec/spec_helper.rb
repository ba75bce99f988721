# rspec-puppet with Debian's gems only: no bundler, no network, no fixtures download.
require 'fileutils'
require 'json'
require 'rspec-puppet'
require 'rspec-puppet-facts'

FIXTURES = File.expand_path(File.join(__dir__, 'fixtures'))
METADATA = JSON.parse(File.read(File.expand_path(File.join(__dir__, '..', 'metadata.json'))))

# NOTE: on_supported_os finds neither platform in facterdb 1.12.1: it has no
# Debian 12 facts, and its RedHat 9 file (facter 4.2) carries only structured
# facts while the filter, and neutron::params 21.0.0, read the legacy
# osfamily/operatingsystem ones. So: Debian 12 by hand, RedHat 9 from
# facterdb's file, legacy facts derived from os.* for both.
def legacy_facts(os)
  {
    osfamily: os['family'],
    operatingsystem: os['name'],
    operatingsystemrelease: os['release']['full'],
    operatingsystemmajrelease: os['release']['major'],
    kernel: 'Linux',
    os: os,
  }
end

def facterdb_file(name)
  dir = File.join(Gem::Specification.find_by_name('facterdb').gem_dir, 'facts')
  JSON.parse(File.read(File.join(dir, name))).transform_keys(&:to_sym)
end

def supported_platforms
  redhat = facterdb_file('4.2/redhat-9-x86_64.facts')
  platforms = {
    'debian-12-x86_64' => legacy_facts('family' => 'Debian', 'name' => 'Debian',
                                       'release' => { 'major' => '12', 'full' => '12.5' }),
    'redhat-9-x86_64' => redhat.merge(legacy_facts(redhat[:os])),
  }
  declared = METADATA['operatingsystem_support'].flat_map do |entry|
    entry['operatingsystemrelease'].map { |rel| "#{entry['operatingsystem'].downcase}-#{rel}-x86_64" }
  end
  raise "metadata.json declares #{declared}, specs cover #{platforms.keys}" unless declared.sort == platforms.keys.sort

  platforms
end

# The module under test, seen by Puppet as fixtures/modules/tripleo_ovn_metadata
# (git-ignored). rspec-puppet's own setup would name it from manifests/*.pp,
# which this module does not have, and would create empty spec/ folders.
MODULE_LINK = File.join(FIXTURES, 'modules', 'tripleo_ovn_metadata')
unless File.symlink?(MODULE_LINK)
  FileUtils.mkdir_p(File.dirname(MODULE_LINK))
  FileUtils.ln_s(File.expand_path(File.join(__dir__, '..')), MODULE_LINK)
end

RSpec.configure do |c|
  c.setup_fixtures = false
  c.module_path = [File.join(FIXTURES, 'modules'), '/usr/share/puppet/modules'].join(':')
  c.manifest_dir = File.join(FIXTURES, 'manifests')
  c.hiera_config = File.join(FIXTURES, 'hiera.yaml')
  c.default_facts = { os_service_default: '<SERVICE DEFAULT>', os_workers: 2, hiera_case: 'none' }
end
