package dev.edgepoints.sdk.test

import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener
import kotlin.system.exitProcess

/** Runs every test class and prints the closing line CI reads. */
fun main() {
    val core = JUnitCore()
    var failed = 0
    var finished = 0
    core.addListener(object : RunListener() {
        override fun testFinished(description: Description) {
            finished++
        }
        override fun testFailure(failure: Failure) {
            failed++
            println("FAILED ${failure.description.displayName}: ${failure.message}")
            println(failure.trace)
        }
        override fun testStarted(description: Description) {
            println("test ${description.displayName}")
        }
    })
    core.run(EdgePointsTest::class.java, ConsentTest::class.java, OutboxTest::class.java, NodeTest::class.java,
        FetchTest::class.java, PointsTest::class.java, HostCallbackTest::class.java, MembersTest::class.java, CouponsTest::class.java,
        RentalTest::class.java, LoyaltyTest::class.java, KotlinApiTest::class.java,
        SecretStoreTest::class.java, LifecycleTest::class.java)
    println("${finished - failed} passed, $failed failed")
    exitProcess(if (failed == 0 && finished > 0) 0 else 1)
}
