// The Swift API against the mock control plane, mirroring the Kotlin tests
// in bindings/kotlin/tests: every flow, the host's secret store, the app's
// lifecycle, and the Swift idioms (async throws, AsyncStream, readable
// errors). Run by `bindings/swift/test.sh` on macOS.
import Foundation
import XCTest
import EdgePointsSDK

final class SwiftApiTests: XCTestCase {
    func testEventsArriveAsAnAsyncStream() async throws {
        let events = SdkEvents()
        let sdk = try EdgePoints(config: config(newDataDir()), listener: events)
        let stream = events.stream()
        _ = try await sdk.consent().grant(termsVersion: "2026-11", policy: ConsentPolicy())
        var heard: SdkEvent?
        for await event in stream {
            if case .consentChanged = event { heard = event; break }
        }
        guard case let .consentChanged(state) = heard, case .granted = state.status else {
            return XCTFail("no ConsentChanged: \(String(describing: heard))")
        }
        await sdk.shutdown()
    }

    func testNumbersAreSignedAndANegativeOneIsARefusalThatNamesIt() async throws {
        let sdk = try EdgePoints(config: config(newDataDir()))
        XCTAssertEqual(try sdk.setBattery(percent: 80, charging: true).batteryPercent, 80)
        do {
            _ = try sdk.setBattery(percent: -5, charging: true)
            XCTFail("accepted")
        } catch let error as EdgePointsError {
            XCTAssertEqual("\(error)", "invalid input: percent must not be negative (got -5)")
            XCTAssertEqual(error.localizedDescription, "invalid input: percent must not be negative (got -5)")
        }
        XCTAssertEqual(try sdk.hostState().batteryPercent, 80, "nothing changed")
        await sdk.shutdown()
    }

    func testRegistersOnceAndRemembers() async throws {
        let sdk = try EdgePoints(config: config(newDataDir()))
        let first = try await sdk.register()
        let again = try await sdk.register()
        XCTAssertEqual(first, again)
        XCTAssertEqual(first.deviceId, sdk.deviceId())
        await sdk.shutdown()
    }
}

final class EdgeNodeTests: XCTestCase {
    func testConsentSyncServeAndEarnPoints() async throws {
        let events = RecordingListener()
        let alice = try EdgePoints(config: config(newDataDir()), listener: events)
        _ = try await alice.consent().grant(termsVersion: "2026-11", policy: ConsentPolicy())
        _ = try alice.setNetwork(network: .wifi)
        _ = try alice.setBattery(percent: 90, charging: true)
        let synced = try await alice.node().sync()
        XCTAssertGreaterThanOrEqual(synced.fetched + synced.alreadyCached, 1)
        let node = try await alice.node().start(listen: "127.0.0.1:0")
        XCTAssertNotNil(node.localAddr())

        XCTAssertGreaterThan(try alice.content().stats().items, 0)

        // Heartbeats earn points the app reads and hears.
        advanceClock(ms: 60_000)
        let beat = try await node.heartbeatNow()
        XCTAssertGreaterThanOrEqual(beat.creditedOnlineMs, 0)
        let balance = try await alice.points().balance()
        XCTAssertEqual(balance.balance, beat.balance)
        await node.stop()
        XCTAssertNil(node.localAddr())
        await alice.shutdown()
    }
}

final class CouponTests: XCTestCase {
    func testClaimPresentValidateOfflineAndRedeemOnce() async throws {
        let tillDir = newDataDir()
        let till = try EdgePoints(config: config(tillDir))
        _ = try await till.merchant().enrol(code: createMerchant(name: "Chez Swift", shop: "Canal Saint-Martin"))
        let draft = try await till.merchant().writeActivity(activityId: nil, draft: lunchDeal("Soup and bread"))
        let live = try await till.merchant().submit(activityId: draft.activityId)
        XCTAssertEqual(live.state, .live)

        let customer = try EdgePoints(config: config(newDataDir()))
        let coupon = try await customer.coupons().claim(activityId: live.activityId, referral: nil)
        let shown = try customer.coupons().present(serial: coupon.serial)
        XCTAssertEqual(Int(shown.qrWidth * shown.qrWidth), shown.qrModules.count)

        await till.shutdown()
        let offline = try EdgePoints(config: config(tillDir, endpoints: ["http://127.0.0.1:1"], maxAttempts: 1))
        guard case let .valid(serial, _, _) = try offline.merchant().validate(presentation: shown.text) else {
            return XCTFail("refused offline")
        }
        XCTAssertEqual(serial, coupon.serial)
        XCTAssertEqual(try offline.merchant().validate(presentation: "EPP1:XYZ"), .refused(reason: .malformed))
        await offline.shutdown()

        let online = try EdgePoints(config: config(tillDir))
        let redemption = try await online.merchant().redeem(presentation: shown.text, orderRef: "order-1")
        XCTAssertEqual(redemption.serial, coupon.serial)
        await assertThrowsEdgePoints({ try await online.merchant().redeem(presentation: shown.text, orderRef: "order-2") }) {
            if case let .Rejected(_, code, _) = $0 { return code == "already_redeemed" }
            return false
        }
        await online.shutdown()
        await customer.shutdown()
    }
}

final class RentalTests: XCTestCase {
    func testReserveUnlockThroughASwiftLinkAndReturn() async throws {
        let sdk = try EdgePoints(config: config(newDataDir()))
        let name = freshMember()
        _ = try await sdk.members().signUp(member: name, password: password)
        _ = try await sdk.members().login(member: name, password: password)
        let link = HttpVehicleLink()
        sdk.rental().setVehicleLink(link: link)
        let near = try await sdk.rental().vehiclesNear(near: GeoLocation(latitude: 48.1402, longitude: 11.5600), radiusKm: 2)
        let car = try XCTUnwrap(near.first { $0.vehicleId == "ev-101" })
        let reserved = try await sdk.rental().reserve(vehicleId: car.vehicleId)
        XCTAssertEqual(reserved.phase, .reserved)
        let started = try await sdk.rental().start()
        XCTAssertEqual(started.phase, .running)
        XCTAssertFalse(link.sent.isEmpty, "the unlock went over the Swift link")
        let address = try XCTUnwrap(car.link)
        http("POST", "\(address)/sim/drive", json: "{\"to\": {\"latitude\": 48.1402, \"longitude\": 11.5600}}")
        let ended = try await sdk.rental().end()
        XCTAssertEqual(ended.phase, .closed)
        await sdk.shutdown()
    }
}

final class SecretStoreTests: XCTestCase {
    func testTheDeviceKeyLivesInTheHostStoreAndALostOneIsNeverReplaced() async throws {
        let dir = newDataDir()
        let store = MemorySecretStore()
        let sdk = try EdgePoints(config: config(dir), secretStore: store)
        XCTAssertEqual(store["device-key"]?.count, 32)
        let deviceId = sdk.deviceId()
        await sdk.shutdown()

        let wiped = MemorySecretStore()
        do {
            _ = try EdgePoints(config: config(dir), secretStore: wiped)
            XCTFail("opened without its key")
        } catch EdgePointsError.SecretLost(let secret) {
            XCTAssertTrue(secret.contains(deviceId), secret)
        }
        XCTAssertTrue(wiped.isEmpty, "no new key was made")
        let again = try EdgePoints(config: config(dir), secretStore: store)
        XCTAssertEqual(again.deviceId(), deviceId)
        await again.shutdown()
    }

    func testAThrowingStoreIsATypedError() async throws {
        do {
            _ = try EdgePoints(config: config(newDataDir()), secretStore: FailingSecretStore())
            XCTFail("opened")
        } catch EdgePointsError.SecretStore(let reason) {
            XCTAssertTrue(reason.contains("keystore locked"), reason)
        }
    }
}

final class LifecycleTests: XCTestCase {
    func testTheNodeFollowsTheAppAndABackgroundTaskRunsWhatWaits() async throws {
        let sdk = try EdgePoints(config: config(newDataDir()))
        _ = try await sdk.consent().grant(termsVersion: "2026-11", policy: ConsentPolicy())
        _ = try sdk.setNetwork(network: .wifi)
        _ = try sdk.setBattery(percent: 80, charging: true)
        XCTAssertEqual(sdk.servingGate(), .serving)
        _ = try sdk.setForeground(foreground: false)
        XCTAssertEqual(sdk.servingGate(), .paused(reason: "the app is in the background"))
        _ = try sdk.setForeground(foreground: true)
        let run = try await sdk.runPending(timeoutMs: 20_000)
        XCTAssertTrue(run.finished, "\(run)")
        XCTAssertEqual(run.outbox.pending, 0)
        XCTAssertNotNil(run.sync)
        await sdk.shutdown()
    }

    func testAMemberNoticeArrivesOnceThroughABackgroundRun() async throws {
        let events = RecordingListener()
        let sdk = try EdgePoints(config: config(newDataDir()), listener: events)
        let name = freshMember()
        let member = try await sdk.members().signUp(member: name, password: password)
        _ = try await sdk.members().login(member: name, password: password)
        postNotice(memberId: member.memberId, kind: "message", text: "hello from Swift")
        let run = try await sdk.runPending(timeoutMs: 10_000)
        XCTAssertEqual(run.notices, 1)
        let notices = events.events.compactMap { event -> String? in
            if case let .noticeReceived(notice) = event { return notice.text }
            return nil
        }
        XCTAssertEqual(notices, ["hello from Swift"])
        await sdk.shutdown()
    }
}
