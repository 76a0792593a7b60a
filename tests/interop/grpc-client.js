'use strict';
/*
 * grpc-client.js — scripted Nacos 2.x gRPC clients for the interop suite, built on @grpc/grpc-js and
 * @grpc/proto-loader (server/proto/nacos_grpc.proto, keepCase). Two flavours replay what the real
 * SDKs put on the wire and how they react, read from their sources:
 *
 *   java  nacos-client 2.5.1  (common.remote.client.RpcClient / grpc.GrpcClient / GrpcUtils,
 *         client.naming.remote.gprc.NamingGrpcClientProxy, NamingPushRequestHandler,
 *         redo.NamingGrpcRedoService / RedoScheduledTask, naming.cache.ServiceInfoHolder)
 *   go    nacos-sdk-go v2.3.5 (common/remote/rpc/grpc_client.go, rpc_client.go, grpc_connection.go,
 *         server_request_handler.go, rpc_request/*, clients/naming_client/naming_grpc/*,
 *         naming_client.go, naming_proxy_delegate.go, service_info_updater.go, naming_cache)
 *
 * What both share: the client is given only the server address ("127.0.0.1:8848") and dials the
 * HTTP port + 1000; each connection is its own grpc Channel ('grpc.use_local_subchannel_pool') that
 * carries both the unary calls and the bi-stream; a reconnect builds a new channel and abandons the
 * old one; a health check runs after 5 s without activity; pushes are acknowledged on the stream.
 *
 * Where they differ (each difference is in FLAVOURS below, with the SDK behaviour it copies):
 *   order and body of ServerCheck / ConnectionSetupRequest (Java: `abilityTable`, labels with
 *   AppName and tls.enable, no tenant, no requestId; Go: `clientAbilities`, `tenant:""`,
 *   `requestId:""`), the request envelope (Java: `headers:{}` in the body and {app} in the metadata;
 *   Go: `requestId:""`, metadata headers {} except Subscribe's {app}), the Instance JSON (Java:
 *   Jackson NON_NULL plus the heart-beat getters; Go: every field, zero values included), retries
 *   (Java 4 attempts in 3 s, Go 3 attempts in 10 s, 100 ms apart), redo (Java: a task every
 *   redoDelayMs, default 3000; Go: at once on the connected event), ConnectResetRequest (Java
 *   reconnects; Go without serverIp only health-checks and redoes on the same connection), the
 *   acks (Go's ConnectResetResponse says success:false), and convergence without pushes (Go polls a
 *   service whose cache is older than cacheMillis; Java 2.5 does not by default).
 *
 * The SDKs' own fixed waits (Java/Go sleep 100 ms after ConnectionSetupRequest; retry pauses) are
 * reproduced as they are: they are part of the behaviour under test.
 */
const path = require('node:path');
const { EventEmitter } = require('node:events');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO = path.join(__dirname, '..', '..', 'server', 'proto', 'nacos_grpc.proto');
const proto = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { keepCase: true, defaults: true }));

const GRPC_PORT_OFFSET = 1000;    // both SDKs: rpcPortOffset() / serverPort + 1000
const KEEP_ALIVE_MS = 5000;       // Java connectionKeepAlive, Go KEEP_ALIVE_TIME
const SETUP_WAIT_MS = 100;        // both: sleep after sending ConnectionSetupRequest
const CLIENT_IP = '127.0.0.1';    // NetUtils.localIP() / util.LocalIP()

const sleep = ms => new Promise(r => setTimeout(r, ms));

class NacosError extends Error {
  constructor(code, message) {
    super(`errCode: ${code}, errMsg: ${message}`);
    this.code = code;
    this.errMsg = message;
  }
}

const groupedName = (service, group) => `${group}@@${service}`;

/* ------------------------------------------------------------------ flavours */

/** Java's Instance as Jackson writes it (@JsonInclude NON_NULL, plus the public getters). */
function javaInstance(p) {
  const md = p.metadata || {};
  const num = (k, d) => (/^\d+$/.test(md[k] || '') ? Number(md[k]) : d);
  const o = {};
  if (p.instanceId != null) o.instanceId = p.instanceId;
  Object.assign(o, {
    ip: p.ip, port: p.port, weight: p.weight ?? 1.0, healthy: p.healthy ?? true, enabled: p.enabled ?? true,
    ephemeral: p.ephemeral ?? true,
  });
  if (p.clusterName != null) o.clusterName = p.clusterName;
  if (p.serviceName != null) o.serviceName = p.serviceName;
  Object.assign(o, {
    metadata: md,
    instanceHeartBeatInterval: num('preserved.heart.beat.interval', 5000),
    instanceHeartBeatTimeOut: num('preserved.heart.beat.timeout', 15000),
    ipDeleteTimeout: num('preserved.ip.delete.timeout', 30000),
    instanceIdGenerator: md['preserved.instance.id.generator'] ?? 'simple',
  });
  return o;
}

/** Go's model.Instance (encoding/json, no omitempty: zero values are sent). */
function goInstance(p) {
  return {
    instanceId: p.instanceId ?? '', ip: p.ip ?? '', port: p.port ?? 0, weight: p.weight ?? 0,
    healthy: p.healthy ?? false, enabled: p.enabled ?? false, ephemeral: p.ephemeral ?? false,
    clusterName: p.clusterName ?? '', serviceName: p.serviceName ?? '',
    metadata: p.metadata === undefined ? null : p.metadata,
    instanceHeartBeatInterval: 0, ipDeleteTimeout: 0, instanceHeartBeatTimeOut: 0,
  };
}

const FLAVOURS = {
  java: {
    clientVersion: 'Nacos-Java-Client:v2.5.1',
    timeoutMs: 3000,               // DefaultGrpcClientConfig timeOutMills
    attempts: 4,                   // retryTimes 3: `while (retryTimes <= 3 ...)`
    internal: () => ({ headers: {}, module: 'internal' }),   // requestId null: left out (NON_NULL)
    setup: c => ({
      headers: {}, module: 'internal', clientVersion: 'Nacos-Java-Client:v2.5.1',
      labels: { source: 'sdk', module: 'naming', AppName: c.appName, 'tls.enable': 'false' },
      abilityTable: {},            // SdkClientAbilities: none; tenant is never set for naming
    }),
    naming: (c, ns, service, group) => ({ headers: {}, module: 'naming', namespace: ns, serviceName: service, groupName: group }),
    metaHeaders: (c, _type) => ({ app: c.appName }),          // AbstractNamingClientProxy.getAppHeaders
    instance: javaInstance,
    response: (type, requestId) => ({ resultCode: 200, errorCode: 0, requestId, success: true }),
    responseMeta: type => ({ type }),                         // GrpcUtils.convert(Response): type only
  },
  go: {
    clientVersion: 'Nacos-Go-Client:v2.3.5',
    timeoutMs: 10000,              // ClientConfig.TimeoutMs default
    attempts: 3,                   // REQUEST_DOMAIN_RETRY_TIME
    internal: () => ({ requestId: '', module: 'internal' }),
    setup: () => ({
      requestId: '', module: 'internal', clientVersion: 'Nacos-Go-Client:v2.3.5', tenant: '',
      labels: { source: 'sdk', module: 'naming' }, clientAbilities: {},
    }),
    naming: (c, ns, service, group) => ({ requestId: '', namespace: ns, serviceName: service, groupName: group, module: 'naming' }),
    metaHeaders: (c, type) => (type === 'SubscribeServiceRequest' ? { app: c.appName } : {}),
    instance: goInstance,
    // Go's ConnectResetResponse is built with ResultCode 200 only: success stays false
    response: (type, requestId) => ({
      resultCode: 200, errorCode: 0, success: type !== 'ConnectResetResponse', message: '', requestId,
    }),
    responseMeta: type => ({ type, clientIp: CLIENT_IP }),
  },
};

/* ------------------------------------------------------------------ the client */

/**
 * A scripted SDK client. new NacosGrpcClient('java'|'go', {serverAddr, namespace, appName, ...});
 * await start(); then the SDK-level calls below; close() at the end (clears every timer).
 * Events: 'connected' (connectionId), 'disconnected' (connectionId), 'push' (serviceInfo),
 * 'serverRequest' ({type, body}), 'redo' ({what, service, ok}).
 */
class NacosGrpcClient extends EventEmitter {
  constructor(flavour, opts) {
    super();
    const f = FLAVOURS[flavour];
    if (!f) throw new Error(`unknown flavour ${flavour}`);
    this.flavour = flavour;
    this.f = f;
    const [host, port] = opts.serverAddr.split(':');
    this.server = { ip: host, port: Number(port) };
    this.namespace = opts.namespace ?? (flavour === 'java' ? 'public' : '');
    this.appName = opts.appName ?? (flavour === 'java' ? 'unknown' : '');
    this.redoDelayMs = opts.redoDelayMs ?? 3000;              // Java DEFAULT_REDO_DELAY_TIME
    this.updateCacheWhenEmpty = opts.updateCacheWhenEmpty ?? false;   // Go
    this.pushEmptyProtection = opts.pushEmptyProtection ?? false;     // Java
    this.status = 'INITIALIZED';
    this.conn = null;
    this.lastActive = Date.now();
    this.reconnecting = null;
    this.timers = [];
    this.redoConnected = false;    // Java NamingGrpcRedoService.connected
    this.instancesRedo = new Map();   // grouped name -> {service, group, instance | instances, batch, registered}
    this.subsRedo = new Map();        // grouped name + clusters -> {service, group, clusters, registered}
    this.services = new Map();        // cache key -> serviceInfo
    this.updatedAt = new Map();       // Go UpdateTimeMap
    this.listeners = new Map();       // grouped name -> [{clusters, fn}]
    this.log = [];
    this.stats = { connects: 0, acks: 0, pushes: 0, redoRegisters: 0, redoSubscribes: 0 };
  }

  note(msg) {
    this.log.push(`${new Date().toISOString()} [${this.flavour}] ${msg}`);
    if (process.env.NACOS_INTEROP_VERBOSE === '1') process.stderr.write(`${this.log[this.log.length - 1]}\n`);
  }

  get connectionId() { return this.conn ? this.conn.id : null; }

  isRunning() { return this.status === 'RUNNING'; }

  cas(from, to) {
    if (this.status !== from) return false;
    this.status = to;
    return true;
  }

  /* ---------------- wire */

  static payload(type, body, headers, meta) {
    const value = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return { metadata: { ...meta, type, headers: headers || {} }, body: { type_url: '', value } };
  }

  static decode(p) {
    const type = p.metadata ? p.metadata.type : '';
    const text = p.body && p.body.value ? p.body.value.toString('utf8') : '';
    let body = null;
    try { body = JSON.parse(text); } catch (_) { body = text; }
    return { type, body };
  }

  /** One unary call on conn: resolves {type, body}, rejects with the grpc error. */
  unary(conn, type, body, headers = {}, timeoutMs = this.f.timeoutMs) {
    const p = NacosGrpcClient.payload(type, body, headers, { clientIp: CLIENT_IP });
    return new Promise((resolve, reject) => {
      conn.req.request(p, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(NacosGrpcClient.decode(res))));
    });
  }

  newChannel() {
    const target = `${this.server.ip}:${this.server.port + GRPC_PORT_OFFSET}`;
    const creds = grpc.credentials.createInsecure();
    const channel = new grpc.Channel(target, creds, {
      'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 10 * 1024 * 1024,
    });
    return {
      channel,
      req: new proto.Request(target, creds, { channelOverride: channel }),
      bi: new proto.BiRequestStream(target, creds, { channelOverride: channel }),
      id: '', abandon: false, stream: null,
    };
  }

  closeConn(conn) {
    if (!conn) return;
    conn.abandon = true;
    try { if (conn.stream) conn.stream.cancel(); } catch (_) { /* gone */ }
    try { conn.channel.close(); } catch (_) { /* gone */ }
  }

  /* ---------------- connection life */

  /** GrpcClient.connectToServer: ServerCheck, bi-stream, ConnectionSetupRequest, 100 ms. null on failure. */
  async connectToServer() {
    const conn = this.newChannel();
    let check;
    try {
      if (this.flavour === 'go') {
        // grpc_client.go serverCheck: a 3xx answer (server not ready) is asked again after 1 s, 30 times
        for (let i = 0; ; i++) {
          check = await this.unary(conn, 'ServerCheckRequest', this.f.internal(), {}, 3000);
          const code = check.body && check.body.errorCode;
          if (!(code >= 300 && code < 400) || i === 30) break;
          await sleep(1000);
        }
      } else {
        check = await this.unary(conn, 'ServerCheckRequest', this.f.internal(), {}, 3000);
      }
    } catch (err) {
      this.note(`server check failed: ${err.message}`);
      this.closeConn(conn);
      return null;
    }
    // Java: `if (!(response instanceof ServerCheckResponse)) return null`; Go unmarshals whatever came
    if (this.flavour === 'java' ? check.type !== 'ServerCheckResponse' : !(check.body && check.body.connectionId)) {
      this.note(`server check answered ${check.type} ${JSON.stringify(check.body)}`);
      this.closeConn(conn);
      return null;
    }
    conn.id = check.body.connectionId;
    conn.stream = conn.bi.requestBiStream();
    this.bindStream(conn);
    conn.stream.write(NacosGrpcClient.payload('ConnectionSetupRequest', this.f.setup(this), {}, { clientIp: CLIENT_IP }));
    await sleep(SETUP_WAIT_MS);
    this.stats.connects++;
    this.note(`connected ${conn.id}`);
    return conn;
  }

  bindStream(conn) {
    const ended = what => {
      if (conn.ended) return;
      conn.ended = true;
      // both SDKs: a stream that ends while running and not abandoned switches server
      if (this.isRunning() && !conn.abandon && this.conn === conn) {
        this.note(`stream of ${conn.id} ${what}: switch server`);
        if (this.cas('RUNNING', 'UNHEALTHY')) this.switchServerAsync(null, false);
      }
    };
    conn.stream.on('data', p => this.onServerRequest(conn, NacosGrpcClient.decode(p)));
    conn.stream.on('error', err => ended(`error ${err.code}`));
    conn.stream.on('end', () => ended('completed'));
  }

  async start() {
    if (!this.cas('INITIALIZED', 'STARTING')) return;
    this.every(KEEP_ALIVE_MS, () => this.healthCheckTick());
    if (this.flavour === 'java') this.every(this.redoDelayMs, () => this.javaRedo());
    if (this.flavour === 'go') this.every(1000, () => this.goUpdateServices());
    // Java: retryTimes + 1 tries on start-up; Go: REQUEST_DOMAIN_RETRY_TIME tries
    for (let i = 0; i < (this.flavour === 'java' ? 4 : 3) && !this.conn; i++) this.conn = await this.connectToServer();
    if (this.conn) {
      this.status = 'RUNNING';
      this.onConnected();
    } else {
      this.switchServerAsync(null, false);
    }
  }

  every(ms, fn) {
    let busy = false;
    const t = setInterval(async () => {
      if (busy || this.status === 'SHUTDOWN') return;
      busy = true;
      try { await fn(); } catch (err) { this.note(`timer task failed: ${err.stack}`); } finally { busy = false; }
    }, ms);
    this.timers.push(t);
  }

  /** RpcClient.switchServerAsync: one reconnect at a time (Java's queue of one, Go's channel of one). */
  switchServerAsync(recommend, onRequestFail) {
    if (this.reconnecting || this.status === 'SHUTDOWN') return;
    this.reconnecting = (async () => {
      try {
        await this.reconnect(recommend, onRequestFail);
      } finally {
        this.reconnecting = null;
      }
    })();
  }

  /**
   * RpcClient.healthCheck / sendHealthCheck. Java: up to 4 tries while the call itself fails (the first
   * after a random pause under 500 ms), an answer decides at once, only success is healthy. Go: one
   * try, and a 3xx answer (server starting) counts as healthy.
   */
  async healthCheck() {
    const tries = this.flavour === 'java' ? 4 : 1;
    for (let i = 0; i < tries; i++) {
      if (!this.conn) return false;
      if (this.flavour === 'java' && i === 0) await sleep(Math.floor(Math.random() * 500));
      try {
        const r = await this.unary(this.conn, 'HealthCheckRequest', this.f.internal(), {}, 3000);
        if (r.body && r.body.success) return true;
        return this.flavour === 'go' && r.body && r.body.errorCode >= 300 && r.body.errorCode < 400;
      } catch (err) {
        this.note(`health check call failed: ${err.message}`);
      }
    }
    return false;
  }

  async healthCheckTick() {
    if (this.reconnecting || Date.now() - this.lastActive < KEEP_ALIVE_MS) return;
    if (await this.healthCheck()) {
      this.lastActive = Date.now();
      return;
    }
    if (!this.conn || this.status === 'SHUTDOWN') return;
    this.note(`health check of ${this.conn.id} failed`);
    this.status = 'UNHEALTHY';
    this.switchServerAsync(null, false);
  }

  async reconnect(recommend, onRequestFail) {
    if (onRequestFail && await this.healthCheck()) {
      this.note('server check success, staying on the current connection');
      this.status = 'RUNNING';
      // Go notifies CONNECTED here (its listener then redoes); Java only sets RUNNING
      if (this.flavour === 'go') this.onConnected();
      return;
    }
    if (recommend) this.note(`reconnect to recommended ${recommend.ip}:${recommend.port}`);
    let retryTurns = 0;
    for (let times = 0; this.status !== 'SHUTDOWN'; times++) {
      const conn = await this.connectToServer();
      if (this.status === 'SHUTDOWN') { this.closeConn(conn); return; }
      if (conn) {
        const old = this.conn;
        this.conn = conn;
        this.status = 'RUNNING';
        if (old) {
          this.note(`abandon prev connection ${old.id}`);
          this.closeConn(old);
          this.onDisconnected(old.id);
        }
        this.onConnected();
        return;
      }
      if (times > 0) retryTurns = Math.min(retryTurns + 1, 50);   // one server: every try ends a turn
      // Java: (turns + 1) × 100 ms, up to 5 s; Go: turns × 100 ms (no pause after the first failure)
      await sleep(Math.min(retryTurns + (this.flavour === 'java' ? 1 : 0), 50) * 100);
    }
  }

  onConnected() {
    this.emit('connected', this.conn.id);
    if (this.flavour === 'java') {
      this.redoConnected = true;   // NamingGrpcRedoService.onConnected; the redo task does the rest
    } else {
      this.goRedo();               // ConnectionEventListener.OnConnected: redoSubscribe, redoRegisterEachService
    }
  }

  onDisconnected(id) {
    this.emit('disconnected', id);
    if (this.flavour === 'java') {   // NamingGrpcRedoService.onDisConnect: mark everything to redo
      this.redoConnected = false;
      for (const r of this.instancesRedo.values()) r.registered = false;
      for (const r of this.subsRedo.values()) r.registered = false;
    }
  }

  /** A request from the server on the bi-stream: answered as the SDK's handlers do. */
  onServerRequest(conn, req) {
    this.lastActive = Date.now();
    this.emit('serverRequest', req);
    const rid = req.body && req.body.requestId;
    let respType = null;
    if (req.type === 'NotifySubscriberRequest') {
      this.stats.pushes++;
      this.processServiceInfo(req.body.serviceInfo, 'push');
      respType = 'NotifySubscriberResponse';
    } else if (req.type === 'ConnectResetRequest') {
      respType = this.onConnectReset(req.body);
    } else if (req.type === 'ClientDetectionRequest') {
      respType = 'ClientDetectionResponse';
    } else {
      this.note(`no handler for server request ${req.type}`);   // both: nothing is sent back
    }
    if (!respType) return;
    if (respType === 'NotifySubscriberResponse') this.stats.acks++;
    try {
      conn.stream.write(NacosGrpcClient.payload(respType, this.f.response(respType, rid), undefined, this.f.responseMeta(respType)));
    } catch (err) {
      this.note(`ack failed: ${err.message}`);
    }
  }

  onConnectReset(body) {
    this.note(`ConnectResetRequest ${JSON.stringify(body)}`);
    if (!this.isRunning()) return 'ConnectResetResponse';
    const ip = body.serverIp;
    if (this.flavour === 'java') {
      // RpcClient.ConnectResetRequestHandler; the reconnect loop keeps only a server of its list
      // (and takes that entry's port)
      this.switchServerAsync(ip ? { ip, port: this.server.port } : null, false);
      return 'ConnectResetResponse';
    }
    if (ip) {
      if (!/^\d+$/.test(body.serverPort || '')) return null;   // strconv.Atoi fails: no answer at all
      this.switchServerAsync({ ip, port: this.server.port }, false);
    } else {
      this.switchServerAsync(null, true);   // onRequestFail: health-checks the current connection first
    }
    return 'ConnectResetResponse';
  }

  /* ---------------- requests */

  /** RpcClient.request with the SDK's retries; resolves {type, body}; throws NacosError or the last error. */
  async request(type, body, headers = this.f.metaHeaders(this, type), timeoutMs = this.f.timeoutMs) {
    const start = Date.now();
    let last = null;
    for (let tries = 0; tries < this.f.attempts && Date.now() < start + timeoutMs; tries++) {
      let waitReconnect = false;
      try {
        if (!this.conn || !this.isRunning()) {
          waitReconnect = true;
          throw new NacosError(-401, `Client not connected, current status:${this.status}`);
        }
        const r = await this.unary(this.conn, type, body, headers, timeoutMs);
        if (r.type === 'ErrorResponse') {
          if (r.body.errorCode === 301) {   // "Connection is unregistered": both switch server
            waitReconnect = true;
            if (this.cas('RUNNING', 'UNHEALTHY')) this.switchServerAsync(null, false);
          }
          throw new NacosError(r.body.errorCode, r.body.message);
        }
        this.lastActive = Date.now();
        return r;
      } catch (err) {
        last = err;
        this.note(`send request fail, request=${type}, try=${tries}, error=${err.message}`);
        // Java pauses only while waiting for a reconnect; Go after every failure (waitReconnect)
        if (waitReconnect || this.flavour === 'go') await sleep(Math.min(100, timeoutMs / 3));
      }
    }
    if (this.cas('RUNNING', 'UNHEALTHY')) this.switchServerAsync(null, true);
    throw last || new NacosError(500, 'Request fail, unknown Error');
  }

  /** NamingGrpcClientProxy.requestToServer: a non-success answer is an error, and so is an unexpected type. */
  async naming(type, body, expect) {
    const r = await this.request(type, body);
    if (r.body.resultCode !== 200) throw new NacosError(r.body.errorCode, r.body.message);
    if (expect && r.type !== expect && this.flavour === 'java' && expect !== 'Response') {
      throw new NacosError(500, `Server return invalid response ${r.type}`);
    }
    return r.body;
  }

  /* ---------------- naming API (SDK level) */

  /** Java NacosNamingService.registerInstance(service, group, Instance) / Go RegisterInstance(param). */
  async registerInstance(service, group, inst) {
    const ephemeral = this.flavour === 'java' ? inst.ephemeral ?? true : inst.ephemeral ?? false;
    if (this.flavour === 'java' && !ephemeral) {
      // NamingClientProxyDelegate.getExecuteClientProxy: persistent instances go over gRPC only when the
      // server announced supportPersistentInstanceByGrpc, which needs ability negotiation (not offered here)
      return this.registerPersistentOverHttp(service, group, inst);
    }
    const instance = this.f.instance(this.flavour === 'go' ? { ...inst, metadata: inst.metadata || {} } : inst);
    const key = groupedName(service, group);
    this.instancesRedo.set(key, { service, group, instance, batch: false, registered: false });
    return this.doRegister(service, group, instance);
  }

  async doRegister(service, group, instance) {
    const body = { ...this.f.naming(this, this.namespace, service, group), type: 'registerInstance', instance };
    const r = await this.naming('InstanceRequest', body, 'Response');
    const red = this.instancesRedo.get(groupedName(service, group));
    if (red) red.registered = true;
    return r;
  }

  /** PersistentInstanceRequest, as Java sends it when the server supports persistent instances over gRPC. */
  async registerPersistent(service, group, inst, type = 'registerInstance') {
    const body = { ...this.f.naming(this, this.namespace, service, group), type,
      instance: this.f.instance({ ...inst, ephemeral: false }) };
    return this.naming('PersistentInstanceRequest', body, 'Response');
  }

  /** Java NamingHttpClientProxy.registerService (the path Java takes for ephemeral=false here). */
  async registerPersistentOverHttp(service, group, inst) {
    const form = {
      namespaceId: this.namespace, serviceName: groupedName(service, group), groupName: group,
      clusterName: inst.clusterName ?? 'DEFAULT', ip: inst.ip, port: String(inst.port), weight: String(inst.weight ?? 1.0),
      enable: String(inst.enabled ?? true), healthy: String(inst.healthy ?? true), ephemeral: 'false',
      metadata: JSON.stringify(inst.metadata || {}),
    };
    const body = new URLSearchParams(form).toString();
    const res = await fetch(`http://${this.server.ip}:${this.server.port}/nacos/v1/ns/instance`, {
      method: 'POST', body,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': this.f.clientVersion,
        'Client-Version': this.f.clientVersion.replace(/^.*:v/, ''), 'Request-Module': 'Naming' },
    });
    const text = await res.text();
    if (res.status !== 200) throw new NacosError(res.status, text);
    return text;
  }

  async batchRegisterInstance(service, group, insts) {
    const instances = insts.map(i => this.f.instance(i));
    this.instancesRedo.set(groupedName(service, group), { service, group, instances, batch: true, registered: false });
    return this.doBatchRegister(service, group, instances);
  }

  async doBatchRegister(service, group, instances) {
    const body = { ...this.f.naming(this, this.namespace, service, group), type: 'batchRegisterInstance', instances };
    const r = await this.naming('BatchInstanceRequest', body, 'BatchInstanceResponse');
    const red = this.instancesRedo.get(groupedName(service, group));
    if (red) red.registered = true;
    return r;
  }

  async deregisterInstance(service, group, inst) {
    const key = groupedName(service, group);
    // Java: redoService.instanceDeregister before the request, removed after; Go removes after the request
    let instance;
    if (this.flavour === 'go') {
      instance = goInstance({ ip: inst.ip, port: inst.port, clusterName: inst.clusterName, ephemeral: inst.ephemeral });
    } else {
      instance = javaInstance(inst);
    }
    try {
      return await this.naming('InstanceRequest',
        { ...this.f.naming(this, this.namespace, service, group), type: 'deregisterInstance', instance }, 'Response');
    } finally {
      this.instancesRedo.delete(key);
    }
  }

  /**
   * Java subscribe(service, group, clusters[], listener) / Go Subscribe(SubscribeParam): the listener
   * is filtered by clusters on the client; the server subscription is always for clusters "".
   */
  async subscribe(service, group, clusters, fn) {
    const key = groupedName(service, group);
    if (!this.listeners.has(key)) this.listeners.set(key, []);
    this.listeners.get(key).push({ clusters: clusters || [], fn });
    const cached = this.services.get(key);
    if (cached && this.subsRedo.get(key) && this.subsRedo.get(key).registered) {
      return cached;
    }
    this.subsRedo.set(key, { service, group, clusters: '', registered: false });
    const info = await this.doSubscribe(service, group, '');
    this.processServiceInfo(info, 'subscribe');
    return info;
  }

  async doSubscribe(service, group, clusters) {
    const body = { ...this.f.naming(this, this.namespace, service, group), subscribe: true, clusters };
    const r = await this.naming('SubscribeServiceRequest', body, 'SubscribeServiceResponse');
    const red = this.subsRedo.get(groupedName(service, group));
    if (red) red.registered = true;
    return r.serviceInfo;
  }

  async unsubscribe(service, group) {
    this.subsRedo.delete(groupedName(service, group));
    this.listeners.delete(groupedName(service, group));
    const body = { ...this.f.naming(this, this.namespace, service, group), subscribe: false, clusters: '' };
    return this.naming('SubscribeServiceRequest', body, 'SubscribeServiceResponse');
  }

  /** The proxies' queryInstancesOfService: ServiceQueryRequest {cluster, healthyOnly, udpPort}. */
  async queryInstances(service, group, clusters = [], healthyOnly = false) {
    const body = { ...this.f.naming(this, this.namespace, service, group),
      cluster: [...new Set(clusters)].sort().join(','), healthyOnly, udpPort: 0 };
    const r = await this.naming('ServiceQueryRequest', body, 'QueryServiceResponse');
    return r.serviceInfo;
  }

  /** Java selectInstances(service, group, clusters, healthy, subscribe=false): query, then filter. */
  async selectInstances(service, group, clusters, healthy) {
    const info = await this.queryInstances(service, group, clusters, false);
    return (info.hosts || []).filter(h => h.healthy === healthy && h.enabled && h.weight > 0);
  }

  /** Java getServicesOfServer / Go GetAllServicesInfo: ServiceListRequest with serviceName "". */
  async getServiceList(pageNo, pageSize, group) {
    const ns = this.flavour === 'go' && !this.namespace ? 'public' : this.namespace;
    const body = { ...this.f.naming(this, ns, '', group), pageNo, pageSize };
    body.selector = this.flavour === 'go' ? '' : undefined;   // Java: null selector left out
    const r = await this.naming('ServiceListRequest', JSON.parse(JSON.stringify(body)), 'ServiceListResponse');
    return { count: r.count, names: r.serviceNames };
  }

  /* ---------------- service cache, listeners */

  /** Java ServiceInfoHolder.processServiceInfo / Go ServiceInfoHolder.ProcessService. */
  processServiceInfo(info, source) {
    if (!info) return;
    const key = groupedName(info.name, info.groupName);
    const old = this.services.get(key);
    const empty = !info.hosts || info.hosts.length === 0;
    if (this.flavour === 'go') {
      if (!this.updateCacheWhenEmpty && empty) { this.note(`empty ${source} of ${key} ignored`); return; }
      if (old && old.lastRefTime >= info.lastRefTime) { this.note(`out of date ${source} of ${key} ignored`); return; }
      this.updatedAt.set(key, Date.now());
    } else if (info.hosts == null || (this.pushEmptyProtection && empty)) {
      this.note(`empty or error ${source} of ${key} ignored`);
      return;
    }
    this.services.set(key, info);
    this.emit('push', info, source);
    const sig = s => JSON.stringify((s && s.hosts ? s.hosts : []).map(h => [h.ip, h.port, h.healthy, h.enabled, h.weight,
      h.clusterName, h.metadata]).sort());
    if (old && sig(old) === sig(info)) return;
    for (const l of this.listeners.get(key) || []) {
      const hosts = (info.hosts || []).filter(h => l.clusters.length === 0 || l.clusters.includes(h.clusterName));
      try { l.fn(hosts, info); } catch (err) { this.note(`listener failed: ${err.stack}`); }
    }
  }

  /** Go service_info_updater.go: every second, query services whose cache is older than cacheMillis. */
  async goUpdateServices() {
    for (const [key, info] of this.services) {
      if (Date.now() - (this.updatedAt.get(key) || 0) <= info.cacheMillis) continue;
      try {
        this.processServiceInfo(await this.queryInstances(info.name, info.groupName, info.clusters ? [info.clusters] : [], false), 'query');
      } catch (err) {
        this.note(`query of ${key} failed: ${err.message}`);
      }
    }
  }

  /* ---------------- redo */

  /** Java RedoScheduledTask: every redoDelayMs while connected, whatever is not registered. */
  async javaRedo() {
    if (!this.redoConnected) return;
    for (const r of [...this.instancesRedo.values()]) {
      if (r.registered) continue;
      try {
        if (r.batch) await this.doBatchRegister(r.service, r.group, r.instances);
        else await this.doRegister(r.service, r.group, r.instance);
        this.stats.redoRegisters++;
        this.emit('redo', { what: 'register', service: r.service, ok: true });
      } catch (err) {
        this.note(`redo register ${r.service} failed: ${err.message}`);
        this.emit('redo', { what: 'register', service: r.service, ok: false });
      }
    }
    for (const r of [...this.subsRedo.values()]) {
      if (r.registered) continue;
      try {
        await this.doSubscribe(r.service, r.group, r.clusters);
        this.stats.redoSubscribes++;
        this.emit('redo', { what: 'subscribe', service: r.service, ok: true });
      } catch (err) {
        this.note(`redo subscribe ${r.service} failed: ${err.message}`);
      }
    }
  }

  /** Go ConnectionEventListener.OnConnected: subscribe again (and process), then register again. */
  async goRedo() {
    for (const r of [...this.subsRedo.values()]) {
      try {
        this.processServiceInfo(await this.doSubscribe(r.service, r.group, r.clusters), 'redo');
        this.stats.redoSubscribes++;
        this.emit('redo', { what: 'subscribe', service: r.service, ok: true });
      } catch (err) {
        this.note(`redo subscribe ${r.service} failed: ${err.message}`);
      }
    }
    for (const r of [...this.instancesRedo.values()]) {
      try {
        if (r.batch) await this.doBatchRegister(r.service, r.group, r.instances);
        else await this.doRegister(r.service, r.group, r.instance);
        this.stats.redoRegisters++;
        this.emit('redo', { what: 'register', service: r.service, ok: true });
      } catch (err) {
        this.note(`redo register ${r.service} failed: ${err.message}`);
        this.emit('redo', { what: 'register', service: r.service, ok: false });
      }
    }
  }

  /** Shutdown: no more timers, the connection closed. */
  async close() {
    this.status = 'SHUTDOWN';
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.closeConn(this.conn);
    if (this.reconnecting) await this.reconnecting.catch(() => {});
  }
}

/**
 * A bare connection for protocol-level checks: a channel with its own TCP connection, raw unary calls
 * and an optional bi-stream. Nothing is sent by itself.
 */
class RawConnection {
  constructor(mock) {
    this.client = new NacosGrpcClient('java', { serverAddr: `127.0.0.1:${mock.port}` });
    this.conn = this.client.newChannel();
    this.received = [];
  }

  call(type, body, headers = {}) {
    return this.client.unary(this.conn, type, body, headers, 3000);
  }

  openStream() {
    this.conn.stream = this.conn.bi.requestBiStream();
    this.conn.stream.on('data', p => this.received.push(NacosGrpcClient.decode(p)));
    this.conn.stream.on('error', () => {});
    return this.conn.stream;
  }

  send(type, body) {
    this.conn.stream.write(NacosGrpcClient.payload(type, body, {}, { clientIp: CLIENT_IP }));
  }

  close() { this.client.closeConn(this.conn); }
}

module.exports = { NacosGrpcClient, RawConnection, NacosError, FLAVOURS, GRPC_PORT_OFFSET, KEEP_ALIVE_MS };
