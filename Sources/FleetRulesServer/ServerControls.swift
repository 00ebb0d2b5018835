import FleetRules
import FleetRulesDelivery
import Foundation
import Hummingbird

/// Silences and acknowledgements over HTTP, and the marks they put on reported alerts.
extension FleetRulesServer {
    /// Where silences and acknowledgements live when the service was given no store.
    static let memoryControls: DeliveryControls = {
        do {
            return try DeliveryControls(path: nil)
        } catch {
            // An in-memory SQLite database opens unless the process is out of memory.
            preconditionFailure("cannot open an in-memory SQLite database: \(error)")
        }
    }()

    /// The report's JSON with every alert marked: `silenced_by` (the ids of the active silences
    /// selecting a firing alert) and `acknowledged` (who, why, when), when they apply; with
    /// `ids`, every alert also carries its stable `id` (`a_…`, the id delivery uses).
    static func marked(_ report: Report, _ inventory: Inventory, _ controls: DeliveryControls, ids: Bool = false)
        -> JSONValue
    {
        let json = report.json()
        guard case .object(var fields) = json, let index = fields.firstIndex(where: { $0.0 == "alerts" }),
            case .array(let alerts) = fields[index].1, alerts.count == report.alerts.count
        else { return json }
        let now = Date().timeIntervalSince1970
        var out: [JSONValue] = []
        for (a, value) in zip(report.alerts, alerts) {
            guard case .object(var members) = value else {
                out.append(value)
                continue
            }
            let e = a.episode
            let alert = DeliveryAlert(episode: e, resolvedAt: e.until, inventory: inventory)
            let id = identity(alert, controls)
            if ids { members.insert(("id", .string(id)), at: 0) }
            if e.until == nil {
                let silences = controls.silencing(alert.labels, at: now)
                if !silences.isEmpty { members.append(("silenced_by", .array(silences.map { .string($0) }))) }
            }
            if let ack = controls.acknowledgement(id) { members.append(("acknowledged", ack.json())) }
            out.append(.object(members))
        }
        fields[index].1 = .array(out)
        return .object(fields)
    }

    /// An alert's id as delivery knows it: for a firing alert the id delivery has it firing
    /// under (its start as first seen, kept across restarts), else its own.
    static func identity(_ alert: DeliveryAlert, _ controls: DeliveryControls) -> String {
        if alert.status == .firing, let id = controls.firingID(key: alert.key) { return id }
        return alert.alertID
    }

    /// `POST /v1/silences`: a new silence (under the body's `id` when it names none yet) or a
    /// change of an existing one; answers `{"silenceID": id}` as Alertmanager does.
    static func postSilence(_ request: Request, limit: Int, _ controls: DeliveryControls) async -> Response {
        let body: JSONValue
        switch await jsonBody(request, limit: limit) {
        case .success(let b): body = b
        case .failure(let e): return e.response
        }
        let now = Date().timeIntervalSince1970
        var silence: RuntimeSilence
        do {
            silence = try RuntimeSilence.parse(body, now: now)
        } catch {
            return Self.error(.badRequest, "invalid_silence", error.message)
        }
        if !silence.id.isEmpty {
            guard silence.id.count <= 128,
                silence.id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
            else {
                return Self.error(
                    .badRequest, "invalid_silence", "'id' must be letters, digits, '-' and '_' (at most 128)")
            }
            if let old = controls.silence(silence.id), old.state(at: now) == .expired {
                return Self.error(
                    .conflict, "silence_expired", "silence \(silence.id) has expired; post it without an id to renew it"
                )
            }
        }
        do {
            let id = try controls.put(silence)
            return Self.json(.object([("silenceID", .string(id))]))
        } catch {
            return Self.error(.internalServerError, "store_failed", "cannot store the silence: \(error)")
        }
    }

    /// `POST /v1/alerts/{id}/ack` with `{"by": …, "comment": …}`: the firing alert with that id
    /// is acknowledged (no repeats, no further escalation).
    static func acknowledge(
        _ request: Request, id: String, limit: Int, host: EngineHost, _ controls: DeliveryControls
    ) async -> Response {
        let body: JSONValue
        switch await jsonBody(request, limit: limit) {
        case .success(let b): body = b
        case .failure(let e): return e.response
        }
        guard case .string(let by)? = body["by"], !by.trimmingCharacters(in: .whitespaces).isEmpty else {
            return Self.error(.badRequest, "invalid_ack", "'by' must name who acknowledges")
        }
        var comment = ""
        switch body["comment"] {
        case nil, .null?: break
        case .string(let c)?: comment = c
        default: return Self.error(.badRequest, "invalid_ack", "'comment' must be a string")
        }
        let report = await host.report()
        let inventory = host.inventory
        guard
            let episode = report.alerts.map(\.episode).first(where: {
                identity(DeliveryAlert(episode: $0, resolvedAt: $0.until, inventory: inventory), controls) == id
            })
        else {
            return Self.error(.notFound, "unknown_alert", "no alert with this id (GET /v1/alerts lists them)")
        }
        guard episode.until == nil else {
            return Self.error(
                .conflict, "alert_resolved", "the alert has resolved; if it fires again it is a new alert with a new id"
            )
        }
        do {
            let ack = try controls.acknowledge(
                Acknowledgement(alertID: id, by: by, comment: comment, at: Date().timeIntervalSince1970))
            return Self.json(.object([("id", .string(id)), ("acknowledged", ack.json())]))
        } catch {
            return Self.error(.internalServerError, "store_failed", "cannot store the acknowledgement: \(error)")
        }
    }

    /// A JSON request body, or the 400/413 answer.
    static func jsonBody(_ request: Request, limit: Int) async -> Result<JSONValue, ResponseError> {
        let bytes: [UInt8]
        switch await collect(request, limit: limit) {
        case .success(let b): bytes = b
        case .failure(let e): return .failure(e)
        }
        do {
            return .success(try JSONValue.parse(String(decoding: bytes, as: UTF8.self)))
        } catch {
            return .failure(ResponseError(Self.error(.badRequest, "malformed", "the body is not JSON: \(error)")))
        }
    }
}
