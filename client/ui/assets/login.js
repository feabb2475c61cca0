// The login page: shows the error the node sent back in `?error=` (as text, never as markup).

const error = new URLSearchParams(window.location.search).get('error');
const box = document.getElementById('login-error');
if (box && error) {
  box.textContent = error;
  box.hidden = false;
  const password = document.getElementById('password');
  if (password) password.focus();
}
