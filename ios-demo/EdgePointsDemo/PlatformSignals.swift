import EdgePointsSDK
import Network
import UIKit

/// Tells the SDK what only the host knows, as it changes: the network
/// (NWPathMonitor) and the battery (UIDevice). Foreground and background
/// come from the scene phase (see `EdgePointsDemoApp`). The SDK decides
/// from the user's consent policy whether the node serves.
@MainActor
final class PlatformSignals {
    private let sdk: EdgePoints
    private let monitor = NWPathMonitor()
    private var batteryObservers: [NSObjectProtocol] = []

    init(sdk: EdgePoints) {
        self.sdk = sdk
    }

    func start() {
        monitor.pathUpdateHandler = { [sdk] path in
            let kind: NetworkKind
            if path.status != .satisfied {
                kind = .offline
            } else if path.isExpensive || path.usesInterfaceType(.cellular) {
                kind = .cellular
            } else {
                kind = .wifi
            }
            _ = try? sdk.setNetwork(network: kind)
        }
        monitor.start(queue: DispatchQueue(label: "edgepoints.network"))

        UIDevice.current.isBatteryMonitoringEnabled = true
        reportBattery()
        for name in [UIDevice.batteryLevelDidChangeNotification, UIDevice.batteryStateDidChangeNotification] {
            batteryObservers.append(NotificationCenter.default.addObserver(forName: name, object: nil, queue: .main) { [weak self] _ in
                Task { @MainActor in self?.reportBattery() }
            })
        }
    }

    func stop() {
        monitor.cancel()
        for observer in batteryObservers {
            NotificationCenter.default.removeObserver(observer)
        }
        batteryObservers.removeAll()
    }

    private func reportBattery() {
        let device = UIDevice.current
        // The simulator reports -1: treat it as a full battery on the charger.
        let level = device.batteryLevel < 0 ? 100 : Int32(device.batteryLevel * 100)
        let charging = device.batteryState == .charging || device.batteryState == .full || device.batteryLevel < 0
        _ = try? sdk.setBattery(percent: level, charging: charging)
    }
}
