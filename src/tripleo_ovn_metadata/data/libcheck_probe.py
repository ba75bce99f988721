"""The library probes ``verify --libraries`` runs inside the agent image (its python3).

Never imported on the host: it uses the image's ovsdbapp and python-ovs, whatever their
version, so it sticks to APIs both old and current releases have. Each subcommand prints
one JSON object with raw figures on stdout; the host (libchecks.py) judges them.

    python3 libcheck_probe.py txn REMOTE DATABASE PREFIX [--threads N --txns N --commands N]
    python3 libcheck_probe.py idl REMOTE [--sizes 100,2000 --rounds N --updates N]
"""

import argparse
import gc
import json
import sys
import threading
import time
import uuid


def _importable_version(module_name, distribution):
    try:
        from importlib import metadata
        return metadata.version(distribution)
    except Exception:
        module = sys.modules.get(module_name)
        return getattr(module, "__version__", "unknown")


def _old_collections_names():
    """Give releases older than Python 3.10 (ovsdbapp < 0.13) their collections ABCs.

    Only adds the names that moved to collections.abc, so an old library imports and runs
    its own transaction code unchanged.
    """
    import collections
    import collections.abc

    for name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "Callable"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))


def txn_probe(args):
    """Threads run multi-command ovsdbapp transactions at once; report what each meant."""
    _old_collections_names()
    from ovsdbapp.backend.ovs_idl import connection, idlutils

    if args.database == "OVN_Southbound":
        from ovsdbapp.schema.ovn_southbound import impl_idl
        api_class = impl_idl.OvnSbApiIdlImpl
    else:
        from ovsdbapp.schema.ovn_northbound import impl_idl
        api_class = impl_idl.OvnNbApiIdlImpl
    helper = idlutils.get_schema_helper(args.remote, args.database)
    helper.register_table("Address_Set")
    conn = connection.Connection(connection.OvsdbIdl(args.remote, helper), timeout=120)
    api = api_class(conn)
    start = threading.Barrier(args.threads)
    meant = []
    errors = []
    lock = threading.Lock()

    def worker(thread):
        start.wait()
        for txn_index in range(args.txns):
            names = [f"{args.prefix}-t{thread}-x{txn_index}-c{k}" for k in range(args.commands)]
            try:
                with api.transaction(check_error=True) as txn:
                    for name in names:
                        txn.add(api.db_create("Address_Set", name=name,
                                              addresses=[f"10.{thread}.{txn_index}.1"]))
                        # A caller does some work between commands (lookups, logging):
                        # the transaction stays open long enough for others to start theirs.
                        time.sleep(args.pause)
            except Exception as exc:  # the host reports it; keep the other transactions going
                with lock:
                    errors.append(f"thread {thread} txn {txn_index}: {type(exc).__name__}: {exc}")
            with lock:
                meant.append({"thread": thread, "txn": txn_index, "names": names})

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
    began = time.monotonic()
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    seconds = time.monotonic() - began
    conn.stop()
    return {"library": "ovsdbapp " + _importable_version("ovsdbapp", "ovsdbapp"),
            "threads": args.threads, "txns": args.txns, "commands": args.commands,
            "seconds": seconds, "meant": meant, "errors": errors}


def idl_probe(args):
    """Per-update IDL time of a Logical_Switch.ports modify at each switch size."""
    import ovs.poller
    import ovs.version
    from ovs import jsonrpc, stream
    from ovs.db import idl

    error, strm = stream.Stream.open_block(stream.Stream.open(args.remote))
    if error:
        raise SystemExit(f"cannot connect to {args.remote}: error {error}")
    rpc = jsonrpc.Connection(strm)
    error, reply = rpc.transact_block(
        jsonrpc.Message.create_request("get_schema", ["OVN_Northbound"]))
    rpc.close()
    if error or reply.error:
        raise SystemExit(f"get_schema from {args.remote} failed: {error or reply.error}")
    schema_json = reply.result

    class CountingIdl(idl.Idl):
        """Counts the Logical_Switch updates it has processed."""

        switch_updates = 0

        def notify(self, event, row, updates=None):
            if event == idl.ROW_UPDATE and row._table.name == "Logical_Switch":
                self.switch_updates += 1

    def connect():
        helper = idl.SchemaHelper(None, schema_json)
        for table in ("Logical_Switch", "Logical_Switch_Port"):
            helper.register_table(table)
        client = CountingIdl(args.remote, helper)
        while not client.has_ever_connected():
            wait(client)
        return client

    def wait(client, busy=None):
        began = time.perf_counter()
        client.run()
        if busy is not None:
            busy[0] += time.perf_counter() - began
        poller = ovs.poller.Poller()
        client.wait(poller)
        poller.timer_wait(100)
        poller.block()

    began = time.monotonic()
    writer, reader = connect(), connect()

    def commit(body):
        while True:
            writer.run()
            txn = idl.Transaction(writer)
            body(txn)
            status = txn.commit_block()
            if status in (idl.Transaction.SUCCESS, idl.Transaction.UNCHANGED):
                return txn
            if status != idl.Transaction.TRY_AGAIN:
                raise SystemExit(f"writer transaction {status}: {txn.get_error()}")

    def switch_row(client, name):
        for row in client.tables["Logical_Switch"].rows.values():
            values = row._data["name"].values
            if values and next(iter(values)).value == name:
                return row
        return None

    added = {}

    def neutron_port(port, network, index):
        """The columns ML2/OVN writes for a VM port (one network, one subnet)."""
        mac = f"fa:16:3e:{index // 65536 % 256:02x}:{index // 256 % 256:02x}:{index % 256:02x}"
        address = f"{mac} 10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256 + 2}"
        port.name = str(uuid.uuid4())
        port.addresses = [address]
        port.port_security = [address]
        port.enabled = True
        port.options = {"requested-chassis": "compute-0", "mcast_flood_reports": "true"}
        port.external_ids = {
            "neutron:cidrs": address.split()[1] + "/8",
            "neutron:device_id": str(uuid.uuid4()),
            "neutron:device_owner": "compute:nova",
            "neutron:network_name": network,
            "neutron:port_name": "",
            "neutron:project_id": uuid.uuid4().hex,
            "neutron:revision_number": "2",
            "neutron:security_group_ids": str(uuid.uuid4()),
        }

    def add_ports(name, count):
        inserted = []

        def body(txn):
            inserted.clear()
            switch = switch_row(writer, name)
            first = len(added.get(name, ()))
            for k in range(count):
                port = txn.insert(writer.tables["Logical_Switch_Port"])
                neutron_port(port, name, first + k)
                switch.addvalue("ports", port)
                inserted.append(port.uuid)

        txn = commit(body)
        added.setdefault(name, []).extend(txn.get_insert_uuid(u) for u in inserted)

    def drain(name, ports, updates):
        busy = [0.0]
        while True:
            row = switch_row(reader, name)
            if (row is not None and len(row._data["ports"].values) == ports
                    and reader.switch_updates >= updates):
                return busy[0]
            wait(reader, busy)

    switches = {}
    for size in args.sizes:
        name = f"tom-libcheck-{size}-{uuid.uuid4().hex[:8]}"
        commit(lambda txn, name=name: setattr(
            txn.insert(writer.tables["Logical_Switch"]), "name", name))
        for begin in range(0, size, 500):
            add_ports(name, min(500, size - begin))
        drain(name, size, 0)
        switches[size] = [name, size]
    loaded = time.monotonic() - began
    # The loaded rows go to the permanent generation: a full collection scanning them
    # would cost time in proportion to the rows held, whatever the library does.
    gc.collect()
    gc.freeze()
    best = {size: None for size in args.sizes}
    # Each update is one port create (insert the port, add it to the switch's ports), the
    # operation whose cost grew with the switch in the upstream report. Rounds alternate
    # between the sizes so a busy neighbour slows both alike; the fastest round of each
    # size is its figure (timeit's rule: noise only adds time).
    for _ in range(args.rounds):
        for size, switch in switches.items():
            name, ports = switch
            for _ in range(args.updates):
                add_ports(name, 1)
            time.sleep(0.05)  # let the server's updates reach the reader's socket
            gc.collect()
            switch[1] = ports + args.updates
            busy = drain(name, switch[1], reader.switch_updates + args.updates)
            per_update = busy / args.updates
            if best[size] is None or per_update < best[size]:
                best[size] = per_update
    return {"library": "ovs " + ovs.version.VERSION, "rounds": args.rounds,
            "updates": args.updates, "grown_by": args.rounds * args.updates,
            "load_seconds": loaded, "seconds": time.monotonic() - began,
            "per_update_us": {str(size): value * 1e6 for size, value in best.items()}}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="libcheck_probe")
    sub = parser.add_subparsers(dest="probe", required=True)
    txn = sub.add_parser("txn")
    txn.add_argument("remote")
    txn.add_argument("database", choices=["OVN_Southbound", "OVN_Northbound"])
    txn.add_argument("prefix")
    txn.add_argument("--threads", type=int, default=16)
    txn.add_argument("--txns", type=int, default=8)
    txn.add_argument("--commands", type=int, default=5)
    txn.add_argument("--pause", type=float, default=0.002)
    idl_parser = sub.add_parser("idl")
    idl_parser.add_argument("remote")
    idl_parser.add_argument("--sizes", default="100,2000",
                            type=lambda text: [int(x) for x in text.split(",")])
    idl_parser.add_argument("--rounds", type=int, default=24)
    idl_parser.add_argument("--updates", type=int, default=8)
    args = parser.parse_args(argv)
    result = txn_probe(args) if args.probe == "txn" else idl_probe(args)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
