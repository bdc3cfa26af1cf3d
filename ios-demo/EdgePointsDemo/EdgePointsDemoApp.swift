import BackgroundTasks
import EdgePointsSDK
import os
import SwiftUI

/// The background task that runs the SDK's pending work (the outbox, the
/// member's session and notices, a manifest sync where the policy allows).
let pendingWorkTask = "dev.edgepoints.demo.pending"

@main
struct EdgePointsDemoApp: App {
    @StateObject private var model = DemoModel()
    @Environment(\.scenePhase) private var scenePhase

    init() {
        setLogger(logger: OSLogLogger(), maxLevel: .info)
    }

    var body: some Scene {
        WindowGroup {
            ContentView()
                .environmentObject(model)
                .task {
                    model.open()
                    registerBackgroundWork()
                }
        }
        // The consent policy decides whether the node serves in the
        // background; the app only says where it is.
        .onChange(of: scenePhase) { phase in
            model.setForeground(phase == .active)
            if phase == .background { scheduleBackgroundWork() }
        }
    }

    private func registerBackgroundWork() {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: pendingWorkTask, using: nil) { task in
            guard let refresh = task as? BGAppRefreshTask else { return task.setTaskCompleted(success: false) }
            scheduleBackgroundWork()
            let work = Task { @MainActor in
                let finished = await model.runPending()
                refresh.setTaskCompleted(success: finished)
            }
            // iOS ends the task when it wants the time back; what did not
            // fit waits for the next run (the SDK's state stays whole).
            refresh.expirationHandler = { work.cancel() }
        }
    }

    private func scheduleBackgroundWork() {
        let request = BGAppRefreshTaskRequest(identifier: pendingWorkTask)
        request.earliestBeginDate = Date(timeIntervalSinceNow: 15 * 60)
        try? BGTaskScheduler.shared.submit(request)
    }
}

/// SDK logs to the unified log (Console.app, `log stream`).
final class OSLogLogger: EdgePointsSDK.Logger, @unchecked Sendable {
    private let osLog = os.Logger(subsystem: "dev.edgepoints.demo", category: "sdk")

    func log(level: LogLevel, target: String, message: String) throws {
        switch level {
        case .error: osLog.error("\(target, privacy: .public): \(message, privacy: .public)")
        case .warn: osLog.warning("\(target, privacy: .public): \(message, privacy: .public)")
        case .info: osLog.info("\(target, privacy: .public): \(message, privacy: .public)")
        case .debug, .trace: osLog.debug("\(target, privacy: .public): \(message, privacy: .public)")
        }
    }
}
