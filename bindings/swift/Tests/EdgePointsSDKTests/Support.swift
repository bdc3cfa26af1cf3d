// Helpers for the Swift tests, as `bindings/kotlin/tests/Support.kt` has
// them for Kotlin: the mock control plane's URL (from the environment, set by
// `bindings/swift/test.sh`), fresh data directories, and QA's admin calls.
import Foundation
import XCTest
import EdgePointsSDK

let controlPlane: String = ProcessInfo.processInfo.environment["EDGEPOINTS_CONTROL_PLANE"]
    ?? "http://127.0.0.1:8080"

let password = "correct horse battery"

func newDataDir() -> String {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("edgepoints-swift-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.path
}

func config(_ dataDir: String, endpoints: [String] = [controlPlane], maxAttempts: Int32 = 4) -> EdgePointsConfig {
    EdgePointsConfig(
        endpoints: endpoints,
        dataDir: dataDir,
        requestTimeoutMs: 5_000,
        connectTimeoutMs: 2_000,
        maxAttempts: maxAttempts,
        retryBaseDelayMs: 20,
        retryMaxDelayMs: 200,
        platform: "swift-test",
        appVersion: "1.0"
    )
}

func freshMember() -> String {
    "sw-" + UUID().uuidString.prefix(8).lowercased()
}

/// Records every event, as an app's listener would see them.
final class RecordingListener: EventListener, @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [SdkEvent] = []
    var events: [SdkEvent] {
        lock.lock(); defer { lock.unlock() }
        return seen
    }
    func onEvent(event: SdkEvent) throws {
        lock.lock(); seen.append(event); lock.unlock()
    }
}

/// An HTTP call to the mock or a simulated car; the status and body.
@discardableResult
func http(_ method: String, _ url: String, json: String? = nil, body: Data? = nil) -> (Int, Data) {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    if let json {
        request.setValue("application/json", forHTTPHeaderField: "content-type")
        request.httpBody = json.data(using: .utf8)
    } else if let body {
        request.httpBody = body
    }
    let done = DispatchSemaphore(value: 0)
    var answer: (Int, Data) = (0, Data())
    URLSession.shared.dataTask(with: request) { data, response, _ in
        answer = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data())
        done.signal()
    }.resume()
    done.wait()
    return answer
}

func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

/// The first capture of `pattern` in `body`.
func capture(_ pattern: String, in body: String) -> String? {
    let regex = try! NSRegularExpression(pattern: pattern)
    let range = NSRange(body.startIndex..., in: body)
    guard let match = regex.firstMatch(in: body, range: range),
          let found = Range(match.range(at: 1), in: body) else { return nil }
    return String(body[found])
}

func advanceClock(ms: Int64) {
    let (status, body) = http("POST", "\(controlPlane)/admin/clock", json: "{\"advance_ms\": \(ms)}")
    precondition(status == 200, "clock refused: \(text(body))")
}

func createMerchant(name: String, shop: String) -> String {
    let (_, body) = http("POST", "\(controlPlane)/admin/merchants",
                         json: "{\"name\": \"\(name)\", \"shops\": [\"\(shop)\"]}")
    return capture("\"enrolment_code\":\"([A-Z0-9]+)\"", in: text(body))!
}

func postNotice(memberId: String, kind: String, text notice: String) {
    let (status, body) = http("POST", "\(controlPlane)/admin/members/\(memberId)/notices",
                              json: "{\"kind\": \"\(kind)\", \"text\": \"\(notice)\"}")
    precondition(status == 201, "notice refused: \(text(body))")
}

func lunchDeal(_ description: String) -> ActivityDraft {
    let now = Int64(Date().timeIntervalSince1970)
    return ActivityDraft(
        template: .percentOff, title: "15% off lunch", description: description,
        shop: "Canal Saint-Martin", staff: [], featuredItems: ["soupe"], pictures: [],
        percentOff: 15, amountOffCents: nil, gift: nil, minSpendCents: 0,
        validFromS: now - 60, validUntilS: now + 86_400, totalLimit: 10, perCustomerLimit: 1,
        pointsPrice: nil
    )
}

/// The host's link to the mock's simulated cars (Bluetooth on a phone).
final class HttpVehicleLink: VehicleLink, @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [Data] = []
    var sent: [Data] {
        lock.lock(); defer { lock.unlock() }
        return requests
    }
    func exchange(vehicleId: String, address: String, request: Data) throws -> Data {
        lock.lock(); requests.append(request); lock.unlock()
        let (status, body) = http("POST", "\(address)/link", body: request)
        guard status == 200 else { throw VehicleLinkError.Failed(reason: "the car answered \(status)") }
        return body
    }
}

/// A keystore in memory, as a test host keeps one.
final class MemorySecretStore: SecretStore, @unchecked Sendable {
    private let lock = NSLock()
    private var secrets: [String: Data] = [:]
    subscript(name: String) -> Data? {
        lock.lock(); defer { lock.unlock() }
        return secrets[name]
    }
    var isEmpty: Bool { lock.lock(); defer { lock.unlock() }; return secrets.isEmpty }
    func load(name: String) throws -> Data? { self[name] }
    func save(name: String, secret: Data) throws { lock.lock(); secrets[name] = secret; lock.unlock() }
    func delete(name: String) throws { lock.lock(); secrets[name] = nil; lock.unlock() }
}

/// A keystore that throws, as a locked one does.
final class FailingSecretStore: SecretStore, @unchecked Sendable {
    func load(name: String) throws -> Data? { throw SecretStoreError.Failed(reason: "keystore locked") }
    func save(name: String, secret: Data) throws { throw SecretStoreError.Failed(reason: "keystore locked") }
    func delete(name: String) throws { throw SecretStoreError.Failed(reason: "keystore locked") }
}

/// Asserts that `body` throws an `EdgePointsError` matching `matches`.
func assertThrowsEdgePoints<T>(
    _ body: () async throws -> T,
    _ matches: (EdgePointsError) -> Bool,
    file: StaticString = #filePath, line: UInt = #line
) async {
    do {
        _ = try await body()
        XCTFail("no error thrown", file: file, line: line)
    } catch let error as EdgePointsError {
        XCTAssertTrue(matches(error), "unexpected \(error)", file: file, line: line)
    } catch {
        XCTFail("not an EdgePointsError: \(error)", file: file, line: line)
    }
}
