"""Enforcement exports: the register's decisions as files the tools IT already runs read
(DNS response-policy zone, hosts file, Squid ACL, PAC file, browser and IDE extension
policies), generated from the current register."""
