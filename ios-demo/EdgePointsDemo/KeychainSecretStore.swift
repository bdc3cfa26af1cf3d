import EdgePointsSDK
import Foundation
import Security

/// The SDK's secrets (the device key, the member session) in the Keychain,
/// readable only on this device once it was unlocked after a restart (what
/// background tasks need). A Keychain error is thrown as `SecretStoreError`,
/// which the SDK turns into a typed error rather than a new identity.
final class KeychainSecretStore: SecretStore, @unchecked Sendable {
    private let service = "dev.edgepoints.demo.secrets"

    func load(name: String) throws -> Data? {
        var query = base(name)
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        switch status {
        case errSecSuccess: return result as? Data
        case errSecItemNotFound: return nil
        default: throw failure("read", status)
        }
    }

    func save(name: String, secret: Data) throws {
        let update = [kSecValueData as String: secret] as CFDictionary
        var status = SecItemUpdate(base(name) as CFDictionary, update)
        if status == errSecItemNotFound {
            var add = base(name)
            add[kSecValueData as String] = secret
            add[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
            status = SecItemAdd(add as CFDictionary, nil)
        }
        guard status == errSecSuccess else { throw failure("write", status) }
    }

    func delete(name: String) throws {
        let status = SecItemDelete(base(name) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else { throw failure("delete", status) }
    }

    private func base(_ name: String) -> [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: name,
        ]
    }

    private func failure(_ what: String, _ status: OSStatus) -> SecretStoreError {
        let text = SecCopyErrorMessageString(status, nil) as String? ?? "OSStatus \(status)"
        return .Failed(reason: "Keychain \(what): \(text)")
    }
}
