import EdgePointsSDK
import SwiftUI

/// Receives SDK events on an SDK thread and publishes them on the main one.
final class EventLog: EventListener, ObservableObject, @unchecked Sendable {
    @Published var lines: [String] = []

    func onEvent(event: SdkEvent) {
        let line = String(describing: event)
        DispatchQueue.main.async { self.lines.insert(line, at: 0) }
    }
}

@MainActor
final class DemoModel: ObservableObject {
    @Published var deviceId = "-"
    @Published var consent = "-"
    @Published var error: String?
    let events = EventLog()
    private var sdk: EdgePoints?

    /// The mock control plane on the developer's Mac, seen from the simulator.
    let controlPlane = "http://127.0.0.1:8080"

    func start() {
        do {
            let dir = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
                .appendingPathComponent("edgepoints")
            let sdk = try EdgePoints(
                config: EdgePointsConfig(
                    endpoints: [controlPlane], dataDir: dir.path, platform: "ios", appVersion: "demo"),
                listener: events)
            self.sdk = sdk
            deviceId = sdk.deviceId()
            consent = String(describing: try sdk.consent().state().status)
        } catch {
            self.error = "\(error)"
        }
    }

    func grant() async {
        guard let sdk else { return }
        do {
            _ = try await sdk.register()
            let state = try await sdk.consent().grant(termsVersion: "2026-11", policy: ConsentPolicy())
            consent = String(describing: state.status)
        } catch {
            self.error = "\(error)"
        }
    }

    func revoke() async {
        guard let sdk else { return }
        do {
            consent = String(describing: try await sdk.consent().revoke(purgeCache: true).status)
        } catch {
            self.error = "\(error)"
        }
    }
}

struct ContentView: View {
    @StateObject private var model = DemoModel()
    @ObservedObject private var log: EventLog

    init() {
        let model = DemoModel()
        _model = StateObject(wrappedValue: model)
        log = model.events
    }

    var body: some View {
        NavigationView {
            List {
                Section("Device") {
                    Text(model.deviceId).font(.footnote.monospaced())
                    Text(model.consent)
                }
                Section {
                    Button("Share this phone (grant consent)") { Task { await model.grant() } }
                    Button("Stop sharing (revoke)") { Task { await model.revoke() } }
                }
                if let error = model.error {
                    Section("Error") { Text(error).foregroundColor(.red) }
                }
                Section("Events") {
                    ForEach(log.lines, id: \.self) { Text($0).font(.caption) }
                }
            }
            .navigationTitle("edgepoints")
        }
        .onAppear { model.start() }
    }
}

@main
struct EdgePointsDemoApp: App {
    var body: some Scene {
        WindowGroup { ContentView() }
    }
}
