import EdgePointsSDK
import SwiftUI

/// A tab per flow, and the SDK's failures as an alert in its own words.
struct ContentView: View {
    @EnvironmentObject private var model: DemoModel

    var body: some View {
        TabView {
            NavigationStack { ConsentView() }.tabItem { Label("Consent", systemImage: "hand.raised") }
            NavigationStack { NodeView() }.tabItem { Label("Node", systemImage: "antenna.radiowaves.left.and.right") }
            NavigationStack { PointsView() }.tabItem { Label("Points", systemImage: "star") }
            NavigationStack { CouponsView() }.tabItem { Label("Coupons", systemImage: "ticket") }
            NavigationStack { TillView() }.tabItem { Label("Till", systemImage: "qrcode.viewfinder") }
            NavigationStack { RentalView() }.tabItem { Label("Rental", systemImage: "car") }
            NavigationStack { SettingsView() }.tabItem { Label("Settings", systemImage: "gear") }
        }
        .alert(model.message ?? "", isPresented: Binding(
            get: { model.message != nil },
            set: { if !$0 { model.message = nil } }
        )) {
            Button("OK", role: .cancel) {}
        }
    }
}

/// "12.3 MB" for a byte count.
func bytes(_ count: Int64) -> String {
    ByteCountFormatter.string(fromByteCount: count, countStyle: .file)
}

/// Sign-up and login, or who is logged in; coupons with points and rental need a member.
struct MemberLogin: View {
    @EnvironmentObject private var model: DemoModel
    @State private var name = ""
    @State private var password = ""

    var body: some View {
        switch model.member {
        case let .loggedIn(session):
            HStack {
                Text("Logged in as \(session.member)")
                Spacer()
                Button("Log out") { model.logOut() }
            }
        case .expired, .loggedOut:
            if case .expired = model.member { Text("Your session ended: log in again") }
            TextField("Member name", text: $name).textInputAutocapitalization(.never)
            SecureField("Password", text: $password)
            HStack {
                Button("Log in") { Task { await model.logIn(name, password, signUp: false) } }
                Button("Sign up") { Task { await model.logIn(name, password, signUp: true) } }
            }
        }
    }
}

struct ConsentView: View {
    @EnvironmentObject private var model: DemoModel
    @State private var policy = ConsentPolicy()

    var body: some View {
        Form {
            Section {
                Text("With your consent, this phone keeps verified copies of popular content and serves them to people nearby using the same app. You earn points for the time and the bytes.")
                Text(status)
                Text(gate)
            }
            Section("When may it serve?") {
                Toggle("On Wi-Fi", isOn: $policy.serveOnWifi)
                Toggle("On mobile data", isOn: $policy.serveOnCellular)
                Toggle("Only while charging", isOn: $policy.chargingOnly)
                Toggle("With the app in the background", isOn: $policy.serveInBackground)
                Stepper("Not below \(policy.minBatteryPercent) % battery", value: $policy.minBatteryPercent, in: 0...100, step: 5)
            }
            Section {
                Button("Share this phone") { Task { await model.grant(policy) } }
                Button("Stop sharing and delete the cache", role: .destructive) { Task { await model.revoke() } }
            }
        }
        .navigationTitle("Share this phone")
        .onAppear {
            if case let .granted(_, granted)? = model.consent?.status { policy = granted }
        }
    }

    private var status: String {
        switch model.consent?.status {
        case let .granted(terms, _)?: return "You agreed (terms \(terms))" + (model.consent?.reported == true ? "" : " — not yet reported, it will be")
        case .revoked?: return "You stopped sharing"
        default: return "You have not decided"
        }
    }

    private var gate: String {
        switch model.gate {
        case .serving: return "Serving now"
        case let .paused(reason): return "Paused: \(reason)"
        case .noConsent: return "Not serving"
        }
    }
}

struct NodeView: View {
    @EnvironmentObject private var model: DemoModel

    var body: some View {
        List {
            Section {
                if let node = model.node {
                    Text("Serving on \(node.localAddr() ?? "—")")
                    Button("Stop", role: .destructive) { Task { await model.stopNode() } }
                } else {
                    Button("Sync the cache and start serving") { Task { await model.startNode() } }
                }
            }
            Section("Served") {
                if let s = model.stats {
                    Text("\(s.requests) requests, \(bytes(s.bytesServed)) (\(s.hits) hits, \(s.misses) misses)")
                    Text("This month: \(bytes(s.uploadedThisMonthBytes)) of \(bytes(s.monthlyCapBytes))")
                } else {
                    Text("Nothing yet")
                }
            }
            Section("As the control plane sees it") {
                if let p = model.presence {
                    Text("Reported: \(p.reportedAddresses.joined(separator: ", "))")
                    Text("Reached: \(p.reachableAddresses.isEmpty ? "not yet probed" : p.reachableAddresses.joined(separator: ", "))")
                    if let beat = p.heartbeats.lastAccepted { Text("Last heartbeat #\(beat.seq), balance \(beat.balance)") }
                } else {
                    Text("Not reported yet")
                }
            }
        }
        .navigationTitle("Edge node")
    }
}

struct PointsView: View {
    @EnvironmentObject private var model: DemoModel

    var body: some View {
        List {
            if let b = model.balance {
                Text("\(b.balance) points").font(.largeTitle)
                Text("Today \(b.today) of \(b.dailyCap); online \(b.onlineMs / 60_000) min, delivered \(bytes(b.deliveredBytes))")
            }
            Section("Ledger") {
                ForEach(model.ledger, id: \.id) { entry in
                    Text("\(entry.points >= 0 ? "+" : "")\(entry.points)  \(String(describing: entry.reason))  \(entry.detail)")
                }
            }
        }
        .navigationTitle("Points")
        .refreshable { await model.refreshPoints() }
        .task { await model.refreshPoints() }
    }
}

struct CouponsView: View {
    @EnvironmentObject private var model: DemoModel
    @State private var shown: String?

    var body: some View {
        List {
            Section { MemberLogin() }
            Section("Near you") {
                ForEach(model.activities, id: \.activityId) { activity in
                    VStack(alignment: .leading) {
                        Text(activity.draft.title).font(.headline)
                        Text("\(activity.merchantName) · \(activity.draft.shop)")
                        if let price = activity.draft.pointsPrice { Text("\(price.points) points") }
                        Button("Claim") { Task { await model.claim(activity.activityId) } }
                    }
                }
            }
            Section("Yours") {
                ForEach(model.held, id: \.serial) { coupon in
                    VStack(alignment: .leading) {
                        Text(coupon.title)
                        Button(shown == coupon.serial ? "Hide" : "Show at the till") {
                            shown = shown == coupon.serial ? nil : coupon.serial
                        }
                        if shown == coupon.serial { PresentationView(serial: coupon.serial) }
                    }
                }
            }
        }
        .navigationTitle("Coupons")
        .refreshable { await model.browse() }
        .task { await model.browse() }
    }
}

/// The coupon as the till scans it: a new presentation every 30-second step
/// (signed by this phone's key, so a screenshot goes stale), drawn from the
/// SDK's module matrix.
struct PresentationView: View {
    @EnvironmentObject private var model: DemoModel
    let serial: String
    @State private var presentation: CouponPresentation?

    var body: some View {
        VStack {
            if let p = presentation {
                QrCodeView(width: Int(p.qrWidth), modules: p.qrModules).frame(width: 240, height: 240)
                Button("Copy for the till") { UIPasteboard.general.string = p.text }
            }
        }
        .task(id: serial) {
            while !Task.isCancelled, let next = model.present(serial) {
                presentation = next
                let wait = max(1_000, next.refreshAtMs - Int64(Date().timeIntervalSince1970 * 1000))
                try? await Task.sleep(nanoseconds: UInt64(wait) * 1_000_000)
            }
        }
    }
}

/// Draws the SDK's QR module matrix (row by row, `true` = dark) with a quiet zone.
struct QrCodeView: View {
    let width: Int
    let modules: [Bool]

    var body: some View {
        Canvas { context, size in
            let quiet = 4.0
            let cell = min(size.width, size.height) / (Double(width) + 2 * quiet)
            context.fill(Path(CGRect(origin: .zero, size: size)), with: .color(.white))
            for row in 0..<width {
                for column in 0..<width where modules[row * width + column] {
                    let rect = CGRect(x: (Double(column) + quiet) * cell, y: (Double(row) + quiet) * cell, width: cell, height: cell)
                    context.fill(Path(rect), with: .color(.black))
                }
            }
        }
    }
}

struct TillView: View {
    @EnvironmentObject private var model: DemoModel
    @State private var code = ""
    @State private var presentation = ""

    var body: some View {
        Form {
            Section("Enrol this device") {
                TextField("Enrolment code", text: $code).textInputAutocapitalization(.characters)
                Button("Enrol") { Task { await model.enrol(code) } }
            }
            Section("A customer's coupon") {
                TextField("Scanned presentation (EPP1:…)", text: $presentation)
                Button("Paste") { presentation = UIPasteboard.general.string ?? "" }
                Button("Check (offline)") { model.validate(presentation) }
                Button("Redeem") { Task { await model.redeem(presentation) } }
                if let verdict = model.validation { Text(verdict) }
            }
        }
        .navigationTitle("Till")
    }
}

struct RentalView: View {
    @EnvironmentObject private var model: DemoModel

    private var phase: RentalPhase { model.rental?.phase ?? .idle }

    var body: some View {
        List {
            Section { MemberLogin() }
            Section("Your rental: \(String(describing: phase))") {
                if let car = model.rental?.vehicle { Text("\(car.model) \(car.plate), \(car.batteryPercent) %") }
                if let refusal = model.rental?.lastRefusal { Text("The car refused: \(refusal)") }
                if let fee = model.rental?.rental?.fee { Text("Fee: \(Double(fee.totalCents) / 100) \(fee.currency)") }
                switch phase {
                case .reserved:
                    Button("Start and unlock") { Task { await model.startRental() } }
                    Button("Cancel", role: .destructive) { Task { await model.cancelReservation() } }
                case .running:
                    Button("Unlock") { Task { await model.unlock() } }
                    Button("Lock") { Task { await model.lock() } }
                    Button("Return") { Task { await model.endRental() } }
                default:
                    EmptyView()
                }
            }
            if ![.reserved, .starting, .running, .ending].contains(phase) {
                Section("Cars near you") {
                    ForEach(model.vehicles, id: \.vehicleId) { car in
                        VStack(alignment: .leading) {
                            Text("\(car.model) \(car.plate)").font(.headline)
                            Text("\(car.batteryPercent) % · \(car.rangeKm) km · \(String(format: "%.1f", car.distanceKm ?? 0)) km away")
                            Button("Reserve") { Task { await model.reserve(car.vehicleId) } }
                        }
                    }
                }
            }
            Section("Notices") {
                Button("Check now") { Task { await model.checkNotices() } }
                ForEach(model.notices, id: \.noticeId) { Text("\($0.kind): \($0.text)") }
            }
        }
        .navigationTitle("Rent a car")
        .refreshable { await model.findCars() }
        .task { await model.findCars() }
    }
}

struct SettingsView: View {
    @EnvironmentObject private var model: DemoModel
    @State private var url = ""

    var body: some View {
        Form {
            Section("Mock control plane (the simulator reaches the Mac on 127.0.0.1)") {
                TextField("URL", text: $url).textInputAutocapitalization(.never).keyboardType(.URL)
                Button("Use this control plane") { Task { await model.use(controlPlane: url) } }
            }
            Section { Text("Device \(model.sdk?.deviceId() ?? "—")") }
        }
        .navigationTitle("Settings")
        .onAppear { url = model.controlPlane }
    }
}
