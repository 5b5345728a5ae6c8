import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

// Local HTTP servers that misbehave on purpose, for image URLs: they redirect to loopback and to
// other schemes, answer slowly or never, send bodies without end, lie about lengths, fail. Only
// loopback addresses appear anywhere (the server under test refuses them unless allow-listed, and
// the corpus must never send traffic beyond this machine even if that guard failed).

export interface HostileServers {
  /** Allow-listed in the server under test (URL_ALLOWED_HOSTS=127.0.0.1:<port>). */
  allowed: string;
  /** Not allow-listed: a loopback target the guard must refuse, also after a redirect. */
  forbidden: string;
  close(): Promise<void>;
}

async function listen(handler: (path: string, res: ServerResponse) => void): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => handler(req.url ?? '/', res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, sockets };
}

/** Starts the servers; `images` are served by name at /img/<name>. */
export async function startHostileServers(images: Record<string, Buffer>): Promise<HostileServers> {
  const timers = new Set<NodeJS.Timeout>();
  const forbidden = await listen((_path, res) => {
    res.setHeader('content-type', 'image/jpeg');
    res.end(images['good.jpg']);
  });
  const forbiddenBase = `http://127.0.0.1:${forbidden.port}`;
  let allowedBase = '';
  const allowed = await listen((path, res) => {
    const redirect = (to: string) => {
      res.statusCode = 302;
      res.setHeader('location', to);
      res.end();
    };
    if (path.startsWith('/img/')) {
      const bytes = images[decodeURIComponent(path.slice('/img/'.length))];
      res.statusCode = bytes ? 200 : 404;
      res.end(bytes ?? 'no such image');
      return;
    }
    switch (path) {
      case '/redirect/loopback':
        return redirect(`${forbiddenBase}/x.jpg`);
      case '/redirect/localhost':
        return redirect(`http://localhost:${forbidden.port}/x.jpg`);
      case '/redirect/ipv6-loopback':
        return redirect(`http://[::1]:${forbidden.port}/x.jpg`);
      case '/redirect/mapped-loopback':
        return redirect(`http://[::ffff:127.0.0.1]:${forbidden.port}/x.jpg`);
      case '/redirect/decimal-loopback':
        return redirect(`http://2130706433:${forbidden.port}/x.jpg`);
      case '/redirect/file':
        return redirect('file:///etc/passwd');
      case '/redirect/ftp':
        return redirect('ftp://127.0.0.1/x.jpg');
      case '/redirect/self':
        return redirect(`${allowedBase}/redirect/self`);
      case '/redirect/relative-loop':
        return redirect('/redirect/relative-loop');
      case '/redirect/no-location':
        res.statusCode = 302;
        return void res.end();
      case '/redirect/good':
        return redirect(`${allowedBase}/img/good.jpg`);
      case '/status/404':
      case '/status/500':
      case '/status/204':
        res.statusCode = Number(path.slice('/status/'.length));
        return void res.end();
      case '/html':
        res.setHeader('content-type', 'text/html');
        return void res.end('<html><body>not an image</body></html>');
      case '/stall':
        // headers never come: the fetch's time limit must end it
        return;
      case '/slow-body': {
        res.setHeader('content-type', 'image/jpeg');
        res.write(images['good.jpg']!.subarray(0, 100));
        const drip = setInterval(() => (res.writableEnded || res.destroyed ? clearInterval(drip) : res.write(Buffer.from([0]))), 200);
        timers.add(drip);
        res.on('close', () => clearInterval(drip));
        return;
      }
      case '/endless': {
        res.setHeader('content-type', 'image/jpeg');
        const chunk = Buffer.alloc(64 * 1024, 0xab);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
        };
        res.on('drain', pump);
        pump();
        return;
      }
      case '/length-lie': {
        res.setHeader('content-length', String(1024 * 1024 * 1024 * 1024));
        res.write(images['good.jpg']!);
        return void setTimeout(() => res.destroy(), 50);
      }
      case '/short-body': {
        const bytes = images['good.jpg']!;
        res.setHeader('content-length', String(bytes.length * 2));
        res.write(bytes);
        return void res.destroy();
      }
      case '/reset':
        return void res.socket?.destroy();
      case '/empty':
        return void res.end();
      default:
        res.statusCode = 404;
        return void res.end();
    }
  });
  allowedBase = `http://127.0.0.1:${allowed.port}`;
  return {
    allowed: allowedBase,
    forbidden: forbiddenBase,
    async close() {
      for (const t of timers) clearInterval(t);
      for (const s of [allowed, forbidden]) {
        for (const socket of s.sockets) socket.destroy();
        await new Promise<void>((resolve) => s.server.close(() => resolve()));
      }
    },
  };
}
