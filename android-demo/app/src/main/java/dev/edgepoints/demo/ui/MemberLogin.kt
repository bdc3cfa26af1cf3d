package dev.edgepoints.demo.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.Button
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import dev.edgepoints.demo.DemoState
import dev.edgepoints.sdk.MemberState

/** Sign-up and login, or who is logged in; coupons with points and rental need a member. */
@Composable
fun MemberLogin(state: DemoState) {
    val member by state.member.collectAsStateWithLifecycle()
    when (val m = member) {
        is MemberState.LoggedIn -> Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Text("Logged in as ${m.session.member}", modifier = Modifier.weight(1f))
            OutlinedButton(onClick = state::logout) { Text("Log out") }
        }
        else -> {
            var name by rememberSaveable { mutableStateOf("") }
            var password by rememberSaveable { mutableStateOf("") }
            if (m is MemberState.Expired) Text("Your session ended: log in again")
            OutlinedTextField(name, { name = it }, label = { Text("Member name") }, modifier = Modifier.fillMaxWidth())
            OutlinedTextField(
                password, { password = it }, label = { Text("Password") },
                visualTransformation = PasswordVisualTransformation(), modifier = Modifier.fillMaxWidth(),
            )
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = { state.signUpOrLogIn(name, password, signUp = false) }) { Text("Log in") }
                OutlinedButton(onClick = { state.signUpOrLogIn(name, password, signUp = true) }) { Text("Sign up") }
            }
        }
    }
}
