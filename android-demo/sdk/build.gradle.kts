// The edgepoints SDK as an Android library (AAR): the generated Kotlin
// bindings, the hand-written Kotlin beside them (bindings/kotlin/src: events
// as a Flow), the native libraries that build-sdk.sh puts in jniLibs, and
// the consumer ProGuard rules that keep what JNA reaches by reflection.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.edgepoints.sdk"
    compileSdk = 35
    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
    }
    sourceSets["main"].java.srcDir("build/generated-bindings/kotlin")
    sourceSets["main"].java.srcDir("../../bindings/kotlin/src")
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    api("net.java.dev.jna:jna:5.14.0@aar")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.8.1")
}
