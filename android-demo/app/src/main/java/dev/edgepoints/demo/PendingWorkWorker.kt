package dev.edgepoints.demo

import android.content.Context
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.NetworkType
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import dev.edgepoints.sdk.EdgePointsException
import java.util.concurrent.TimeUnit

/**
 * The SDK's pending work when the app is not open: what the outbox holds,
 * the member's session and notices, and a manifest sync where the policy
 * allows. WorkManager gives a worker about ten minutes; the SDK is given
 * less, so it ends on its own terms.
 */
class PendingWorkWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val sdk = (applicationContext as DemoApplication).sdk ?: return Result.success()
        return try {
            val run = sdk.runPending(timeoutMs = 5 * 60_000L)
            if (run.finished) Result.success() else Result.retry()
        } catch (e: EdgePointsException) {
            Result.retry()
        }
    }

    companion object {
        /** Every 15 minutes (WorkManager's shortest period), when online. */
        fun schedule(context: Context) {
            val request = PeriodicWorkRequestBuilder<PendingWorkWorker>(15, TimeUnit.MINUTES)
                .setConstraints(Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
                .build()
            WorkManager.getInstance(context)
                .enqueueUniquePeriodicWork("edgepoints-pending", ExistingPeriodicWorkPolicy.KEEP, request)
        }
    }
}
