import json
def ref(n): return {"$ref": f"#/components/schemas/{n}"}
def jresp(desc, schema): return {"description": desc, "content": {"application/json": {"schema": schema}}}
ERR = lambda d: jresp(d, ref("Error"))
def nullable(t, **kw): return {"type": t, "nullable": True, **kw}
def page_of(item): return {"type": "object", "required": ["data", "meta"], "properties": {"data": {"type": "array", "items": ref(item)}, "meta": ref("Meta")}}
P = lambda name, schema, desc, where="query", required=False: {"name": name, "in": where, "required": required, "description": desc, "schema": schema}
paging = [P("page", {"type": "integer", "minimum": 1, "maximum": 4294967295, "default": 1}, "Page number, from 1."),
          P("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "Items per page (at most 1000).")]
auth_errors = {"401": ERR("Credentials missing or wrong (when credentials are configured), or the admin API is locked (MQTT clients must authenticate and no admin credentials are configured)."),
               "403": ERR("The caller's role is below the operation's (read-only, metrics-only), or a state-changing request came from a foreign `Origin`."),
               "421": ERR("The `Host` header names neither this listener's address, a loopback name nor a name of `[admin] hosts` (DNS rebinding)."),
               "429": ERR("Too many failed authentications from this address; see `Retry-After`.")}
guard_errors = {"403": ERR("A foreign `Origin` on a state-changing request."), "421": auth_errors["421"]}
client_id = P("client_id", {"type": "string", "minLength": 1}, "The client identifier.", "path", True)
topic = P("topic", {"type": "string", "minLength": 1}, "A topic name (it may contain `/`).", "path", True)
def op(summary, desc, responses, params=None, body=None, tag=None, opid=None):
    o = {"summary": summary, "description": desc, "operationId": opid, "tags": [tag], "responses": {**responses, **auth_errors}}
    if params: o["parameters"] = params
    if body: o["requestBody"] = body
    return o
paths = {
 "/api/v1/clients": {"get": op("List clients", "Every session, connected or offline, sorted by client id; filtered and paged.",
     {"200": jresp("A page of clients.", page_of("Client")), "400": ERR("A bad filter or paging value.")},
     [P("client_id", {"type": "string"}, "Client id prefix."), P("username", {"type": "string"}, "Exact user name (live connections)."),
      P("address", {"type": "string"}, "Substring of the peer address `ip:port`."),
      P("protocol", {"type": "string", "enum": ["3.1", "3.1.1", "5.0"]}, "Protocol version."),
      P("connected", {"type": "boolean"}, "Connected (true) or offline sessions (false).")] + paging, tag="clients", opid="listClients")},
 "/api/v1/clients/{client_id}": {
   "get": op("Client detail", "Connection, session, subscriptions, in-flight and queued counts, drops, keep-alive and will.",
     {"200": jresp("The client.", ref("ClientDetail")), "400": ERR("Bad path."), "404": ERR("No such client.")}, [client_id], tag="clients", opid="getClient"),
   "delete": op("Kick a client", "Disconnects the client: MQTT 5 clients get DISCONNECT 0x98 (Administrative action). The will is published; the session stays as its expiry says.",
     {"204": {"description": "Disconnected."}, "400": ERR("Bad path."), "404": ERR("No such client."), "409": ERR("The client has a session but is not connected.")}, [client_id], tag="clients", opid="kickClient")},
 "/api/v1/clients/{client_id}/session": {
   "delete": op("Discard a session", "Kicks the client if connected, then forgets its session (subscriptions, queued messages).",
     {"204": {"description": "Discarded."}, "400": ERR("Bad path."), "404": ERR("No such client.")}, [client_id], tag="clients", opid="discardSession")},
 "/api/v1/subscriptions": {"get": op("List subscriptions", "Every subscription of every session, sorted by client id and filter.",
     {"200": jresp("A page of subscriptions.", page_of("Subscription")), "400": ERR("A bad paging value.")},
     [P("client_id", {"type": "string"}, "Exact client id."), P("filter", {"type": "string"}, "Substring of the topic filter.")] + paging, tag="subscriptions", opid="listSubscriptions")},
 "/api/v1/topics": {"get": op("Topic tree", "Each topic filter in use with the number of sessions subscribed with it.",
     {"200": jresp("A page of filters.", page_of("FilterCount")), "400": ERR("A bad paging value.")},
     [P("filter", {"type": "string"}, "Substring of the topic filter.")] + paging, tag="subscriptions", opid="topicTree")},
 "/api/v1/retained": {
   "get": op("List retained messages", "Retained messages whose topics match a filter (default `#`, which does not match `$SYS/...`).",
     {"200": jresp("A page of retained messages.", page_of("Retained")), "400": ERR("A bad filter or paging value.")},
     [P("filter", {"type": "string", "minLength": 1, "default": "#"}, "A topic filter.")] + paging, tag="retained", opid="listRetained"),
   "delete": op("Delete retained messages", "Deletes every retained message whose topic matches the filter (`#` for all).",
     {"200": jresp("What was deleted.", ref("Deleted")), "400": ERR("Missing or bad filter.")},
     [P("filter", {"type": "string", "minLength": 1}, "A topic filter (`#` for all).", required=True)], tag="retained", opid="deleteRetained")},
 "/api/v1/retained/{topic}": {
   "get": op("Read a retained message", "The retained message on exactly this topic.",
     {"200": jresp("The message.", ref("Retained")), "400": ERR("Not a valid topic name."), "404": ERR("No retained message there.")}, [topic], tag="retained", opid="getRetained"),
   "delete": op("Delete a retained message", "Deletes the retained message on exactly this topic.",
     {"204": {"description": "Deleted."}, "400": ERR("Not a valid topic name."), "404": ERR("No retained message there.")}, [topic], tag="retained", opid="deleteRetainedOne")},
 "/api/v1/sessions": {"post": op("Create a session", "Makes an offline persistent session with subscriptions for a client id that has none, so messages wait for the client; it resumes the session when it connects without Clean Start (MQTT 3.x: clean session 0).",
     {"201": jresp("Created.", {"type": "object", "required": ["client_id"], "properties": {"client_id": {"type": "string"}}}), "400": ERR("A bad body, filter or QoS."), "409": ERR("The client id has a session already."), "422": ERR("Forbidden by the broker's settings or state (expiry 0, shared subscriptions off, an exclusive filter held).")},
     body={"required": True, "content": {"application/json": {"schema": ref("SessionRequest")}}}, tag="clients", opid="createSession")},
 "/api/v1/delayed": {"get": op("List delayed messages", "Messages held for delayed publish (`$delayed/{seconds}/{topic}`), by id.",
     {"200": jresp("A page of held messages.", page_of("Delayed")), "400": ERR("A bad paging value.")}, paging, tag="publish", opid="listDelayed")},
 "/api/v1/delayed/{id}": {"delete": op("Cancel a delayed message", "Forgets a held message: it is never published.",
     {"204": {"description": "Cancelled."}, "400": ERR("Not an id."), "404": ERR("No such held message.")},
     [P("id", {"type": "integer", "minimum": 0, "maximum": 18446744073709551615}, "The id from the list.", "path", True)], tag="publish", opid="cancelDelayed")},
 "/api/v1/publish": {"post": op("Publish a message", "Publishes as the broker to every matching subscription.",
     {"200": jresp("Published.", ref("Published")), "400": ERR("A bad body, topic, QoS or property."), "422": ERR("Forbidden by the broker's settings ($SYS topics, max_qos, retain_available).")},
     body={"required": True, "content": {"application/json": {"schema": ref("PublishRequest")}}}, tag="publish", opid="publish")},
 "/api/v1/broker": {"get": op("Broker", "Version, uptime, listeners and headline counts.", {"200": jresp("The broker.", ref("Broker"))}, tag="broker", opid="broker")},
 "/api/v1/broker/config": {"get": op("Effective configuration", "The configuration the broker runs with; secrets read `(hidden)`.", {"200": jresp("The configuration.", {"type": "object"})}, tag="broker", opid="brokerConfig")},
 "/api/v1/broker/history": {"get": op("Figures of the last minutes", "Rates between samples taken every 5 s, the last 10 minutes, oldest first.", {"200": jresp("The points.", {"type": "array", "items": ref("HistoryPoint")})}, tag="broker", opid="brokerHistory")},
 "/api/v1/broker/sys": {"get": op("$SYS figures", "What `$SYS/broker/...` publishes, keyed by topic suffix.", {"200": jresp("The figures.", {"type": "object", "additionalProperties": {"oneOf": [{"type": "integer"}, {"type": "string"}]}})}, tag="broker", opid="brokerSys")},
 "/metrics": {"get": op("Prometheus metrics", "Text exposition format 0.0.4.", {"200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}}}, tag="monitoring", opid="metrics")},
 "/healthz": {"get": {"summary": "Liveness", "operationId": "healthz", "tags": ["monitoring"], "security": [], "responses": {"200": jresp("Alive.", {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}})}}},
 "/readyz": {"get": {"summary": "Readiness", "operationId": "readyz", "tags": ["monitoring"], "security": [], "responses": {"200": jresp("Ready.", {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}, "listeners": {"type": "integer"}, "clients_connected": {"type": "integer"}}})}}},
 "/api/v1/openapi.json": {"get": {"summary": "This document", "operationId": "openapi", "tags": ["monitoring"], "security": [], "responses": {"200": jresp("OpenAPI 3.0.", {"type": "object"})}}},
 "/api/v1/login": {"post": {"summary": "Log in (the dashboard)", "operationId": "login", "tags": ["session"], "security": [],
   "description": "Checks a token or a user name and password like the `Authorization` header would and sets the session cookie `hornet_session` (`HttpOnly`, `SameSite=Strict`, `Secure` over HTTPS, 12 hours). Without configured credentials it answers who everyone is and sets no cookie.",
   "requestBody": {"required": True, "content": {"application/json": {"schema": ref("LoginRequest")}}},
   "responses": {"200": jresp("Logged in.", ref("Session")), "400": ERR("A bad body."), "401": auth_errors["401"], "429": auth_errors["429"], **guard_errors}}},
 "/api/v1/logout": {"post": {"summary": "Log out", "operationId": "logout", "tags": ["session"], "security": [],
   "description": "Ends the session of the cookie sent, if any, and clears the cookie.",
   "responses": {"204": {"description": "Logged out."}, **guard_errors}}},
 "/api/v1/session": {"get": {"summary": "Who am I", "operationId": "session", "tags": ["session"], "security": [],
   "description": "Whether credentials are required, and the user and role of the session cookie sent (null without one).",
   "responses": {"200": jresp("The session.", ref("Session")), "421": auth_errors["421"]}}},
}
client_props = {
  "client_id": {"type": "string"}, "connected": {"type": "boolean"}, "username": nullable("string"),
  "address": nullable("string", description="Peer `ip:port` of the live connection."), "listener_port": nullable("integer"),
  "protocol": {"type": "string", "enum": ["3.1", "3.1.1", "5.0"]}, "subscriptions": {"type": "integer", "minimum": 0},
  "inflight": {"type": "integer", "minimum": 0}, "queued": {"type": "integer", "minimum": 0}, "dropped": {"type": "integer", "minimum": 0},
  "connected_at": nullable("integer", description="Unix seconds."), "disconnected_at": nullable("integer", description="Unix seconds.")}
sub_props = {"client_id": {"type": "string"}, "filter": {"type": "string"}, "qos": {"type": "integer", "enum": [0, 1, 2]},
  "no_local": {"type": "boolean"}, "retain_as_published": {"type": "boolean"}, "retain_handling": {"type": "integer", "enum": [0, 1, 2]}, "identifier": nullable("integer")}
pubprops = {"type": "object", "additionalProperties": False, "properties": {
  "payload_format_indicator": {"type": "integer", "minimum": 0, "maximum": 1}, "message_expiry_interval": {"type": "integer", "minimum": 0, "maximum": 4294967295},
  "content_type": {"type": "string"}, "response_topic": {"type": "string", "minLength": 1}, "correlation_data": {"type": "string", "format": "byte", "description": "Base64."},
  "user_properties": {"type": "array", "items": {"type": "object", "additionalProperties": False, "required": ["key", "value"], "properties": {"key": {"type": "string"}, "value": {"type": "string"}}}}}}
schemas = {
 "Error": {"type": "object", "required": ["error", "message"], "properties": {"error": {"type": "string", "description": "A code: bad_request, unauthorized, not_found, not_connected, not_allowed."}, "message": {"type": "string", "description": "What is wrong and how to fix it."}}},
 "Meta": {"type": "object", "required": ["page", "limit", "count"], "properties": {"page": {"type": "integer"}, "limit": {"type": "integer"}, "count": {"type": "integer", "description": "Items after filtering, over all pages."}}},
 "Client": {"type": "object", "required": list(client_props), "properties": client_props},
 "ClientDetail": {"allOf": [ref("Client"), {"type": "object", "required": ["subscription_list", "queued_bytes"], "properties": {
    "keep_alive": nullable("integer"), "session_expiry_interval": nullable("integer", description="Seconds; null = never expires."),
    "queued_bytes": {"type": "integer"}, "inbound_qos2_pending": {"type": "integer"}, "receive_maximum": nullable("integer"),
    "max_packet_size": nullable("integer"), "unwritten_packets": nullable("integer"),
    "subscription_list": {"type": "array", "items": ref("Subscription")},
    "will": {"type": "object", "nullable": True, "properties": {"topic": {"type": "string"}, "qos": {"type": "integer"}, "retain": {"type": "boolean"}, "payload_bytes": {"type": "integer"}, "delay_interval": {"type": "integer"}}},
    "queue_policy": {"type": "object", "required": ["default", "rules"], "description": "What the queue does with an arriving message: the first rule whose filter matches its topic, else the default.", "properties": {
        "default": {"type": "string", "enum": ["drop_newest", "drop_oldest", "latest"]},
        "rules": {"type": "array", "items": {"type": "object", "required": ["filter", "policy"], "properties": {"filter": {"type": "string"}, "policy": {"type": "string", "enum": ["drop_newest", "drop_oldest", "latest"]}}}}}}}}]},
 "Subscription": {"type": "object", "required": list(sub_props), "properties": sub_props},
 "FilterCount": {"type": "object", "required": ["filter", "subscribers"], "properties": {"filter": {"type": "string"}, "subscribers": {"type": "integer", "minimum": 1}}},
 "PublishProperties": pubprops,
 "Retained": {"type": "object", "required": ["topic", "qos", "payload", "payload_encoding", "payload_bytes", "properties", "stored_at"], "properties": {
    "topic": {"type": "string"}, "qos": {"type": "integer", "enum": [0, 1, 2]}, "payload": {"type": "string"},
    "payload_encoding": {"type": "string", "enum": ["utf8", "base64"]}, "payload_bytes": {"type": "integer"},
    "properties": ref("PublishProperties"), "stored_at": {"type": "integer", "description": "Unix seconds."}}},
 "Deleted": {"type": "object", "required": ["deleted", "topics"], "properties": {"deleted": {"type": "integer"}, "topics": {"type": "array", "items": {"type": "string"}}}},
 "PublishRequest": {"type": "object", "additionalProperties": False, "required": ["topic"], "properties": {
    "topic": {"type": "string", "minLength": 1, "description": "A topic name: no wildcards, not $SYS, at most 65535 bytes of UTF-8."}, "payload": {"type": "string", "default": ""},
    "payload_encoding": {"type": "string", "enum": ["utf8", "base64", None], "default": "utf8", "nullable": True},
    "qos": {"type": "integer", "enum": [0, 1, 2], "default": 0}, "retain": {"type": "boolean", "default": False}, "properties": ref("PublishProperties")}},
 "SessionRequest": {"type": "object", "additionalProperties": False, "required": ["client_id"], "properties": {
    "client_id": {"type": "string", "minLength": 1}, "expiry_interval": {"type": "integer", "minimum": 1, "maximum": 4294967295, "description": "Seconds; absent: never expires (capped by max_session_expiry)."},
    "subscriptions": {"type": "array", "items": {"type": "object", "additionalProperties": False, "required": ["filter"], "properties": {"filter": {"type": "string", "minLength": 1}, "qos": {"type": "integer", "enum": [0, 1, 2], "default": 0}}}}}},
 "Delayed": {"type": "object", "required": ["id", "topic", "qos", "retain", "payload", "payload_encoding", "payload_bytes", "properties", "from", "due_at"], "properties": {
    "id": {"type": "integer"}, "topic": {"type": "string", "description": "The topic it will be published to."}, "qos": {"type": "integer", "enum": [0, 1, 2]}, "retain": {"type": "boolean"},
    "payload": {"type": "string"}, "payload_encoding": {"type": "string", "enum": ["utf8", "base64"]}, "payload_bytes": {"type": "integer"},
    "properties": ref("PublishProperties"), "from": {"type": "string", "description": "The client that published it (empty: the broker)."}, "due_at": {"type": "integer", "description": "Unix seconds."}}},
 "Published": {"type": "object", "required": ["matched"], "properties": {"matched": {"type": "boolean", "description": "Whether any subscription matched."}}},
 "HistoryPoint": {"type": "object", "required": ["t", "publish_received_per_s", "publish_sent_per_s", "bytes_received_per_s", "bytes_sent_per_s", "clients_connected"], "properties": {
    "t": {"type": "integer", "description": "Unix time in milliseconds."}, "publish_received_per_s": {"type": "number"}, "publish_sent_per_s": {"type": "number"},
    "bytes_received_per_s": {"type": "number"}, "bytes_sent_per_s": {"type": "number"}, "clients_connected": {"type": "integer"}}},
 "Listener": {"type": "object", "required": ["kind", "address", "port"], "properties": {"kind": {"type": "string", "enum": ["tcp", "tls", "ws", "wss", "admin"], "description": "The transport: tcp (MQTT), tls (MQTT over TLS), ws and wss (MQTT over WebSocket, plain and TLS), or admin (this API)."}, "address": {"type": "string"}, "port": {"type": "integer"},
    "path": {"type": "string", "description": "The WebSocket path (ws and wss)."}, "tls": {"type": "string", "description": "The TLS mode in words (tls and wss; `HTTPS` on the admin listener with `[admin] certfile`)."},
    "active": {"type": "integer", "description": "Connections open now."}, "accepted": {"type": "integer", "description": "Connections accepted since start."},
    "refused_max_connections": {"type": "integer", "description": "Connections refused by max_connections."}, "refused_rate": {"type": "integer", "description": "Connections refused by max_connection_rate."},
    "failed_handshakes": {"type": "integer", "description": "TLS handshakes or WebSocket upgrades that failed."}}},
 "Broker": {"type": "object", "required": ["name", "version", "uptime_seconds", "listeners"], "properties": {
    "name": {"type": "string"}, "version": {"type": "string"}, "uptime_seconds": {"type": "integer"}, "started_at": {"type": "integer"},
    "listeners": {"type": "array", "items": ref("Listener")}, "clients_connected": {"type": "integer"}, "sessions": {"type": "integer"},
    "subscriptions": {"type": "integer"}, "retained_messages": {"type": "integer"},
    "store": {"allOf": [ref("Store")], "nullable": True, "description": "The durable store's figures since start; null when persistence is off."}}},
 "Store": {"type": "object", "required": ["disk_bytes", "live_bytes", "messages_written", "records_written", "bytes_written", "commits", "fsyncs", "messages_per_fsync", "compactions", "failures", "fsync_seconds"], "properties": {
    "disk_bytes": {"type": "integer", "description": "Bytes the log files hold on disk now."},
    "live_bytes": {"type": "integer", "description": "Estimated size of the live state (what a compaction would write)."},
    "messages_written": {"type": "integer", "description": "Message bodies written (routed QoS 1/2 messages owed to persistent sessions)."},
    "records_written": {"type": "integer"}, "bytes_written": {"type": "integer"},
    "commits": {"type": "integer", "description": "Batches written (group commits)."},
    "fsyncs": {"type": "integer", "description": "fdatasync calls that succeeded."},
    "messages_per_fsync": {"type": "number"},
    "compactions": {"type": "integer"},
    "failures": {"type": "integer", "description": "Writes or syncs that failed (disk full, I/O error)."},
    "fsync_seconds": {"type": "object", "required": ["count", "sum", "buckets"], "description": "Histogram of fdatasync durations.", "properties": {
        "count": {"type": "integer"}, "sum": {"type": "number", "description": "Seconds spent in fdatasync."},
        "buckets": {"type": "array", "description": "Cumulative counts: syncs that took at most le seconds.", "items": {"type": "object", "required": ["le", "count"], "properties": {"le": {"type": "number"}, "count": {"type": "integer"}}}}}}}},
}
schemas["LoginRequest"] = {"oneOf": [
    {"type": "object", "required": ["token"], "additionalProperties": False, "properties": {"token": {"type": "string", "description": "`[admin] token`, `read_token` or `metrics_token`."}}},
    {"type": "object", "required": ["username", "password"], "additionalProperties": False, "properties": {"username": {"type": "string", "description": "A user of `[admin] users` or `read_users`."}, "password": {"type": "string", "description": "Their password_file password."}}}]}
schemas["Session"] = {"type": "object", "required": ["required", "user", "role"], "properties": {
    "required": {"type": "boolean", "description": "Whether the API needs credentials."},
    "user": nullable("string", description="`user NAME`, `token`, `read token`, `metrics token`, or `anonymous` without configured credentials."),
    "role": nullable("string", enum=["admin", "read", "metrics", None]),
    "locked": {"type": "string", "description": "Present when the API is locked: why, and which keys to set."}}}
# Runtime users and roles (admin/users.rs), bridges and the cluster (admin/topology.rs).
name_param = lambda what: P("name", {"type": "string", "minLength": 1}, f"The {what} name: 1 to 128 characters, no spaces, ':', '+' or '#'.", "path", True)
def change_resp(what):
    return {"204": {"description": "Saved on disk and in force."},
            "400": ERR("Bad name, body or rule (the message says which)."),
            "404": ERR(f"No such {what}."),
            "409": ERR("It clashes (a password_file user, a role still given), or persistence is off (runtime users are kept in the data directory)."),
            "500": ERR("The store could not be written; nothing changed.")}
json_body = lambda n: {"required": True, "content": {"application/json": {"schema": ref(n)}}}
paths["/api/v1/users"] = {"get": op("Runtime users", "Users created through this API, with their roles (never their password hashes). password_file users are not listed.",
    {"200": jresp("The users.", {"type": "array", "items": ref("RuntimeUser")})}, tag="users", opid="listUsers")}
paths["/api/v1/users/{name}"] = {
    "put": op("Create or change a user", "Creates the user (a password is required) or changes it (without a password the current one stays). Its roles' rules decide its access; saved on disk before the answer. Clients of a user whose password changed are disconnected (0x98).",
        change_resp("user"), [name_param("user")], json_body("UserRequest"), tag="users", opid="putUser"),
    "delete": op("Delete a user", "Deletes the user; its connected clients are disconnected (DISCONNECT 0x98).",
        change_resp("user"), [name_param("user")], tag="users", opid="deleteUser")}
paths["/api/v1/roles"] = {"get": op("Roles", "Roles and their topic rules.",
    {"200": jresp("The roles.", {"type": "array", "items": ref("Role")})}, tag="users", opid="listRoles")}
paths["/api/v1/roles/{name}"] = {
    "put": op("Create or change a role", "Sets the role's rules; in force at once for every user that has it (existing subscriptions are re-checked).",
        change_resp("role"), [name_param("role")], json_body("RoleRequest"), tag="users", opid="putRole"),
    "delete": op("Delete a role", "Refused (409) while a user has it.",
        change_resp("role"), [name_param("role")], tag="users", opid="deleteRole")}
paths["/api/v1/bridges"] = {"get": op("Outgoing bridges", "Each bridge of the configuration (mosquitto.conf `connection` blocks, `[[bridge]]`): connected or not, the remote address last tried, messages sent, received and dropped, reconnections and the last error.",
    {"200": jresp("The bridges.", {"type": "array", "items": ref("Bridge")})}, tag="broker", opid="listBridges")}
paths["/api/v1/cluster"] = {"get": op("Cluster", "This node's name, the persistent sessions it owns, whether it is cut off from the etcd quorum, and the other nodes as it sees them: alive by membership (etcd), its link up, their routes, the wills it holds for them, messages forwarded and received. `enabled` is false on a broker without `[cluster]`.",
    {"200": jresp("The cluster.", ref("Cluster"))}, tag="broker", opid="getCluster")}
count = {"type": "integer", "minimum": 0}
schemas["TopicRule"] = {"type": "object", "required": ["access", "filter"], "additionalProperties": False, "properties": {
    "access": {"type": "string", "enum": ["read", "write", "readwrite", "deny"]},
    "filter": {"type": "string", "description": "A topic filter; %c and %u stand for the client id and the user name."}}}
schemas["RuntimeUser"] = {"type": "object", "required": ["name", "roles"], "properties": {"name": {"type": "string"}, "roles": {"type": "array", "items": {"type": "string"}}}}
schemas["Role"] = {"type": "object", "required": ["name", "rules"], "properties": {"name": {"type": "string"}, "rules": {"type": "array", "items": ref("TopicRule")}}}
schemas["UserRequest"] = {"type": "object", "additionalProperties": False, "properties": {"password": {"type": "string", "minLength": 1}, "roles": {"type": "array", "items": {"type": "string"}}}}
schemas["RoleRequest"] = {"type": "object", "additionalProperties": False, "properties": {"rules": {"type": "array", "items": ref("TopicRule")}}}
schemas["Bridge"] = {"type": "object", "required": ["name", "connected", "address", "sent", "received", "dropped", "reconnects"], "properties": {
    "name": {"type": "string"}, "connected": {"type": "boolean"}, "address": {"type": "string"},
    "sent": count, "received": count, "dropped": count, "reconnects": count, "last_error": nullable("string")}}
schemas["ClusterNode"] = {"type": "object", "required": ["name", "alive", "link_up", "routes", "wills", "forwarded", "received"], "properties": {
    "name": {"type": "string"}, "alive": {"type": "boolean"}, "link_up": {"type": "boolean"},
    "routes": count, "wills": count, "forwarded": count, "received": count}}
schemas["Cluster"] = {"type": "object", "required": ["enabled", "routes_exported", "dropped", "sessions_owned", "cut_off", "shared_dropped", "nodes"], "properties": {
    "enabled": {"type": "boolean"}, "node": nullable("string"), "routes_exported": count, "dropped": count,
    "sessions_owned": {"type": "integer", "minimum": 0, "description": "Persistent sessions whose client id this node claimed in etcd."},
    "cut_off": {"type": "boolean", "description": "True while this node cannot reach the etcd quorum (it refuses new persistent sessions)."},
    "shared_dropped": {"type": "integer", "minimum": 0, "description": "Shared group deliveries dropped because the group had no member left on arrival."},
    "nodes": {"type": "array", "items": ref("ClusterNode")}}}
doc = {"openapi": "3.0.3",
 "info": {"title": "Hornet admin API", "version": "1", "description": "Manage a Hornet MQTT broker: clients, sessions, subscriptions, retained messages, publishing, broker figures. See docs/admin.md."},
 "servers": [{"url": "/"}],
 "security": [{}, {"bearerAuth": []}, {"basicAuth": []}, {"cookieAuth": []}],
 "tags": [{"name": t} for t in ["clients", "subscriptions", "retained", "publish", "broker", "monitoring", "session", "users"]],
 "paths": paths,
 "components": {"schemas": schemas, "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "`[admin] token` (admin role), `read_token` (read-only), `metrics_token` (`/metrics` only)"}, "basicAuth": {"type": "http", "scheme": "basic", "description": "`[admin] users` (admin role) or `read_users` (read-only) with their password_file passwords"}, "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "hornet_session", "description": "The session cookie `POST /api/v1/login` sets"}}}}
for k, v in pubprops["properties"].items():
    if k != "user_properties":
        v["nullable"] = True
# Links let schemathesis's stateful phase call the detail operations with
# ids a list returned (OpenAPI 3.0 runtime expressions).
def link(op_id, param, expr):
    return {"operationId": op_id, "parameters": {param: expr}}
paths["/api/v1/clients"]["get"]["responses"]["200"]["links"] = {
    "GetClient": link("getClient", "client_id", "$response.body#/data/0/client_id"),
    "KickClient": link("kickClient", "client_id", "$response.body#/data/0/client_id"),
    "DiscardSession": link("discardSession", "client_id", "$response.body#/data/0/client_id"),
}
paths["/api/v1/delayed"]["get"]["responses"]["200"]["links"] = {
    "CancelDelayed": link("cancelDelayed", "id", "$response.body#/data/0/id"),
}
paths["/api/v1/retained"]["get"]["responses"]["200"]["links"] = {
    "GetRetained": link("getRetained", "topic", "$response.body#/data/0/topic"),
    "DeleteRetained": link("deleteRetainedOne", "topic", "$response.body#/data/0/topic"),
}
print(json.dumps(doc, indent=2))
