import EdgePointsSDK
import Foundation

/// Where the demo pretends the phone is (the mock's demo city).
let demoLocation = GeoLocation(latitude: 48.1402, longitude: 11.5600)

/// The UI's state, fed the way an app should: read from the SDK once, then
/// refreshed on the events (an `AsyncStream`) that say it changed. A failure
/// shows as the SDK words it.
@MainActor
final class DemoModel: ObservableObject {
    @Published var message: String?
    @Published var consent: ConsentState?
    @Published var gate: ServingGate = .noConsent
    @Published var node: NodeHandle?
    @Published var stats: NodeStats?
    @Published var presence: PresenceStatus?
    @Published var balance: PointsBalance?
    @Published var ledger: [LedgerEntry] = []
    @Published var member: MemberState = .loggedOut
    @Published var notices: [MemberNotice] = []
    @Published var activities: [Activity] = []
    @Published var held: [HeldCoupon] = []
    @Published var validation: String?
    @Published var vehicles: [Vehicle] = []
    @Published var rental: RentalStatus?
    @Published var controlPlane: String

    private(set) var sdk: EdgePoints?
    private let events = SdkEvents()
    private var signals: PlatformSignals?
    private var following: Task<Void, Never>?

    init() {
        // The simulator reaches the Mac's mock control plane on loopback.
        controlPlane = UserDefaults.standard.string(forKey: "control_plane") ?? "http://127.0.0.1:8080"
    }

    func open() {
        guard sdk == nil else { return }
        do {
            let dir = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
                .appendingPathComponent("edgepoints")
            let sdk = try EdgePoints(
                config: EdgePointsConfig(endpoints: [controlPlane], dataDir: dir.path, platform: "ios", appVersion: "demo-0.1.0"),
                listener: events,
                secretStore: KeychainSecretStore()
            )
            self.sdk = sdk
            try sdk.setLocation(location: demoLocation)
            sdk.rental().setVehicleLink(link: HttpVehicleLink())
            let signals = PlatformSignals(sdk: sdk)
            signals.start()
            self.signals = signals
            let stream = events.stream()
            following = Task { [weak self] in
                for await event in stream { self?.on(event) }
            }
            refreshAll()
        } catch {
            message = "\(error)"
        }
    }

    /// Reopens the SDK on another control plane (the settings screen).
    func use(controlPlane url: String) async {
        UserDefaults.standard.set(url, forKey: "control_plane")
        controlPlane = url
        following?.cancel()
        signals?.stop()
        await node?.stop()
        node = nil
        await sdk?.shutdown()
        sdk = nil
        open()
    }

    func setForeground(_ foreground: Bool) {
        _ = try? sdk?.setForeground(foreground: foreground)
    }

    private func on(_ event: SdkEvent) {
        switch event {
        case let .consentChanged(state): consent = state
        case .hostStateChanged: gate = sdk?.servingGate() ?? .noConsent
        case let .nodeStats(stats): self.stats = stats
        case .pointsCredited, .pointsSpent, .couponGivenBack: Task { await refreshPoints() }
        case .couponClaimed: held = (try? sdk?.coupons().held()) ?? held
        case .loggedIn, .loggedOut, .sessionExpired: refreshMember()
        case let .noticeReceived(notice): notices.insert(notice, at: 0)
        case .rentalChanged: rental = try? sdk?.rental().status()
        case .addressesProbed: presence = sdk?.presence().status()
        default: break
        }
    }

    func refreshAll() {
        guard let sdk else { return }
        consent = try? sdk.consent().state()
        gate = sdk.servingGate()
        refreshMember()
        held = (try? sdk.coupons().held()) ?? []
        rental = try? sdk.rental().status()
        Task { await refreshPoints() }
    }

    private func refreshMember() {
        guard let sdk else { return }
        member = (try? sdk.members().state()) ?? .loggedOut
        if case .loggedIn = member { notices = (try? sdk.members().notices(limit: 20)) ?? [] }
    }

    func refreshPoints() async {
        await act {
            self.balance = try await $0.points().balance()
            self.ledger = try await $0.points().ledger(after: 0).entries.reversed()
        }
    }

    /// Runs an SDK call; its failure becomes the message on screen.
    private func act(_ work: (EdgePoints) async throws -> Void) async {
        guard let sdk else { return }
        do {
            try await work(sdk)
        } catch {
            message = "\(error)"
        }
    }

    // Consent and node

    func grant(_ policy: ConsentPolicy) async {
        await act { self.consent = try await $0.consent().grant(termsVersion: "2026-11", policy: policy) }
        gate = sdk?.servingGate() ?? .noConsent
    }

    func revoke() async {
        await node?.stop()
        node = nil
        await act { self.consent = try await $0.consent().revoke(purgeCache: true) }
        gate = sdk?.servingGate() ?? .noConsent
    }

    func startNode() async {
        await act {
            let report = try await $0.node().sync()
            self.message = "synced manifest \(report.manifestVersion): \(report.fetched) fetched"
            self.node = try await $0.node().start(listen: "0.0.0.0:0")
            self.presence = $0.presence().status()
        }
    }

    func stopNode() async {
        await node?.stop()
        node = nil
    }

    // Members

    func logIn(_ name: String, _ password: String, signUp: Bool) async {
        await act {
            if signUp { _ = try await $0.members().signUp(member: name, password: password) }
            _ = try await $0.members().login(member: name, password: password)
        }
        refreshMember()
        await refreshPoints()
    }

    func logOut() {
        do { try sdk?.members().logout() } catch { message = "\(error)" }
        refreshMember()
    }

    func checkNotices() async {
        await act { _ = try await $0.members().heartbeatNow() }
    }

    // Coupons

    func browse() async {
        await act { self.activities = try await $0.coupons().liveActivities(near: demoLocation) }
    }

    func claim(_ activityId: String) async {
        await act { _ = try await $0.coupons().claim(activityId: activityId, referral: nil) }
        held = (try? sdk?.coupons().held()) ?? held
    }

    func present(_ serial: String) -> CouponPresentation? {
        do {
            return try sdk?.coupons().present(serial: serial)
        } catch {
            message = "\(error)"
            return nil
        }
    }

    func enrol(_ code: String) async {
        await act {
            let identity = try await $0.merchant().enrol(code: code)
            self.message = "this device now acts for \(identity.name)"
        }
    }

    func validate(_ presentation: String) {
        do {
            switch try sdk?.merchant().validate(presentation: presentation) {
            case let .valid(serial, _, _)?: validation = "valid: coupon \(serial)"
            case let .refused(reason)?: validation = "refused: \(reason)"
            case nil: break
            }
        } catch {
            message = "\(error)"
        }
    }

    func redeem(_ presentation: String) async {
        await act {
            let redemption = try await $0.merchant().redeem(presentation: presentation, orderRef: "demo-\(Date().timeIntervalSince1970)")
            self.validation = "redeemed \(redemption.serial)"
        }
    }

    // Rental

    func findCars() async {
        await act { self.vehicles = try await $0.rental().vehiclesNear(near: demoLocation, radiusKm: 5) }
    }

    func reserve(_ vehicleId: String) async { await act { self.rental = try await $0.rental().reserve(vehicleId: vehicleId) } }
    func startRental() async { await act { self.rental = try await $0.rental().start() } }
    func unlock() async { await act { _ = try await $0.rental().unlock(); self.rental = try $0.rental().status() } }
    func lock() async { await act { _ = try await $0.rental().lock(); self.rental = try $0.rental().status() } }
    func endRental() async { await act { self.rental = try await $0.rental().end() } }
    func cancelReservation() async { await act { self.rental = try await $0.rental().cancel() } }

    /// The background task's work: what waits, in the time iOS gives.
    func runPending() async -> Bool {
        guard let sdk else { return true }
        return (try? await sdk.runPending(timeoutMs: 25_000).finished) ?? false
    }
}

/// The link to a car: the mock's simulated cars take the SDK's bytes over
/// HTTP at the car's `link` address; a real car would be reached over
/// CoreBluetooth in the same place. It only carries bytes. Called on an SDK
/// worker thread, so blocking is fine.
final class HttpVehicleLink: VehicleLink, @unchecked Sendable {
    func exchange(vehicleId: String, address: String, request: Data) throws -> Data {
        var post = URLRequest(url: URL(string: "\(address)/link")!, timeoutInterval: 10)
        post.httpMethod = "POST"
        post.httpBody = request
        let done = DispatchSemaphore(value: 0)
        var answer: Result<Data, VehicleLinkError> = .failure(.Failed(reason: "no answer"))
        URLSession.shared.dataTask(with: post) { data, response, error in
            if let error {
                answer = .failure(.Failed(reason: error.localizedDescription))
            } else if let status = (response as? HTTPURLResponse)?.statusCode, status != 200 {
                answer = .failure(.Failed(reason: "the car answered \(status)"))
            } else {
                answer = .success(data ?? Data())
            }
            done.signal()
        }.resume()
        done.wait()
        return try answer.get()
    }
}
