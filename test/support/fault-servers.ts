import net from 'node:net';

/** How a fake SSH port misbehaves, like the broken hosts a real network has. */
export type Fault =
  /** accepts, then closes at once (a port forward or bastion with no backend) */
  | 'accept-close'
  /** accepts, waits until the client has sent its banner, then resets (unread data → RST) */
  | 'reset'
  /** sends a line that is not an SSH banner, then closes */
  | 'bogus-banner'
  /** sends a valid SSH banner, then closes before the key exchange */
  | 'banner-then-close'
  /** accepts and says nothing (a tarpit): the client's handshake timeout must end it */
  | 'silent';

export interface FaultServer {
  port: number;
  /** Connections accepted so far (how many times the client tried). */
  readonly accepted: number;
  /** The most connections held open at once (how many handshakes the client ran in parallel). */
  readonly maxOpen: number;
  /** Drops every connection held now (the server side decides, so `maxOpen` does not race the client's close). */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startFaultServer(fault: Fault): Promise<FaultServer> {
  let accepted = 0;
  let maxOpen = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    maxOpen = Math.max(maxOpen, sockets.size);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    if (fault === 'accept-close') s.destroy();
    else if (fault === 'reset') s.once('readable', () => s.resetAndDestroy());
    else if (fault === 'bogus-banner') s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    else if (fault === 'banner-then-close') {
      s.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n');
      s.once('data', () => s.end());
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    get accepted() {
      return accepted;
    },
    get maxOpen() {
      return maxOpen;
    },
    dropAll: () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}

/** A TCP relay to a real server that can cut its connections at will (a network fault between controller and host). */
export interface FaultProxy {
  port: number;
  /** Reset every relayed connection now (the client sees ECONNRESET on an established session). */
  resetAll(): void;
  /** From now on, reset each new connection once the server has sent `bytes` bytes (a drop during the handshake). */
  resetAfterServerBytes(bytes: number | undefined): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let cutAfter: number | undefined;
  const srv = net.createServer((client) => {
    const server = net.connect(targetPort, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, server];
    pairs.add(pair);
    const limit = cutAfter;
    let sent = 0;
    client.on('error', () => {});
    server.on('error', () => {});
    client.on('close', () => {
      server.destroy();
      pairs.delete(pair);
    });
    server.on('close', () => client.destroy());
    client.on('data', (d) => server.write(d));
    server.on('data', (d) => {
      if (limit !== undefined && sent + d.length >= limit) {
        client.write(d.subarray(0, Math.max(0, limit - sent)), () => client.resetAndDestroy());
        server.destroy();
        return;
      }
      sent += d.length;
      client.write(d);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    resetAll: () => {
      for (const [client, server] of pairs) {
        client.resetAndDestroy();
        server.destroy();
      }
    },
    resetAfterServerBytes: (bytes) => {
      cutAfter = bytes;
    },
    close: async () => {
      for (const [client, server] of pairs) {
        client.destroy();
        server.destroy();
      }
      await new Promise((r) => srv.close(r));
    },
  };
}
